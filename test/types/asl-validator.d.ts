declare module 'asl-validator' {
  interface AslValidationError {
    'Error code': string;
    Message: string;
  }
  function validator(definition: unknown, opts?: { checkPaths?: boolean; checkArn?: boolean }): { isValid: boolean; errors: AslValidationError[]; errorsText: (sep?: string) => string };
  export = validator;
}
