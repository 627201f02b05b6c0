// Preloaded first by the test scripts (node --import, before tsx): nothing a test run loads
// writes outside the test's own temporary folders. ONNX Runtime's telemetry (a device id under
// ~/.cache, mat-debug-<pid>.log in the temp folder) is off also for test files that load it
// directly rather than through the trainer's loadOrt, and tsx keeps no compile cache in the temp
// folder, and npm run by a test keeps no debug log. Child processes inherit all three.
process.env.ORT_DISABLE_TELEMETRY = '1';
process.env.TSX_DISABLE_CACHE = '1';
// npm run by a test (packaging runs npm list per VSIX) keeps no debug log in ~/.npm/_logs
process.env.npm_config_logs_max = '0';
