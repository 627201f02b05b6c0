// Preloaded by the test scripts (node --import): test files that load onnxruntime-node directly,
// not through the trainer's loadOrt, get its telemetry switched off too, so a test run leaves no
// device id under ~/.cache and no mat-debug-<pid>.log in the temp folder.
process.env.ORT_DISABLE_TELEMETRY = '1';
