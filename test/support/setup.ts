import 'aws-sdk-client-mock-vitest/extend';
// Quiet logs in tests: failures print their own messages.
process.env.POWERTOOLS_LOG_LEVEL ??= 'SILENT';
process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
process.env.POWERTOOLS_TRACE_ENABLED ??= 'false';
