/**
 * The context keys LIFT sets for `when` clauses (palette entries, keybindings, walkthrough
 * steps): lift.learning, lift.answering and lift.learned. Set only when a value changes.
 */
import * as vscode from 'vscode';

export type LiftContextKey = 'lift.learning' | 'lift.answering' | 'lift.learned';

export class ContextKeys {
  private readonly values = new Map<LiftContextKey, boolean>();

  set(key: LiftContextKey, value: boolean): void {
    if (this.values.get(key) === value) return;
    this.values.set(key, value);
    void vscode.commands.executeCommand('setContext', key, value);
  }

  /** The value last set (false before any). */
  get(key: LiftContextKey): boolean {
    return this.values.get(key) ?? false;
  }
}
