/** The `lift.*` settings, read in one place: for the window, never per folder (package.json declares no folder scope). */
import * as vscode from 'vscode';

export type Device = 'auto' | 'cuda' | 'webgpu' | 'cpu';

export interface LiftSettings {
  model: string;
  device: Device;
  answerPrecision: 'auto' | 'fp32' | 'int8' | 'int4';
  include: string[];
  exclude: string[];
  tokenBudget: number;
  adapterKind: 'lora' | 'gated-memory';
  adapterRank: number;
  modelQA: number;
  epochs: number;
  learnBudgetMinutes: number;
  preset: 'fast' | 'thorough';
  memoryCheck: boolean;
  recompute: 'auto' | 'on' | 'off';
  segmentLength: number;
  batchSize: number;
  trainerPath: string;
}

export function readSettings(): LiftSettings {
  const c = vscode.workspace.getConfiguration('lift');
  return {
    model: c.get<string>('model', ''),
    device: c.get<Device>('device', 'auto'),
    answerPrecision: c.get<'auto' | 'fp32' | 'int8' | 'int4'>('answerPrecision', 'auto'),
    include: c.get<string[]>('include', []),
    exclude: c.get<string[]>('exclude', []),
    tokenBudget: c.get<number>('tokenBudget', 200_000),
    adapterKind: c.get<'lora' | 'gated-memory'>('adapter.kind', 'lora'),
    adapterRank: c.get<number>('adapter.rank', 0),
    modelQA: c.get<number>('modelQA', 0),
    epochs: c.get<number>('epochs', 0),
    learnBudgetMinutes: c.get<number>('learnBudgetMinutes', 10),
    preset: c.get<'fast' | 'thorough'>('preset', 'fast'),
    memoryCheck: c.get<boolean>('memoryCheck', true),
    recompute: c.get<'auto' | 'on' | 'off'>('recompute', 'auto'),
    segmentLength: c.get<number>('segmentLength', 0),
    batchSize: c.get<number>('batchSize', 0),
    trainerPath: c.get<string>('trainerPath', ''),
  };
}
