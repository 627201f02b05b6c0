/**
 * What the trainer records the moment it starts, before any other module is loaded (native/main.ts
 * imports this first): its parent's pid, so that the parent watchdog knows whom to outlive even
 * when the parent dies while the rest of the bundle is still loading.
 */
export const startParentPid = process.ppid;
