/**
 * Secrets stay out of training: files that hold credentials are never read, and secret-looking
 * strings in what is read are replaced by a marker before tokenization. A model that memorized
 * a password would be a leak.
 */
import * as path from 'node:path';

/** File names (or path tails) that hold credentials: never read. */
const SECRET_FILES: RegExp[] = [
  /(^|\/)\.env($|\.|-)/i, // .env, .env.local, .env-prod
  /(^|\/)\.envrc$/i,
  /\.(pem|key|p12|pfx|jks|keystore|kdbx|asc|gpg|ppk|ovpn)$/i,
  /(^|\/)id_(rsa|dsa|ecdsa|ed25519)(\.pub)?$/i,
  /(^|\/)\.(npmrc|pypirc|netrc|git-credentials|htpasswd|pgpass|s3cfg|boto)$/i,
  /(^|\/)\.(aws|azure|gcloud|ssh|gnupg|kube|docker)\//i,
  /(^|\/)kubeconfig[^/]*$/i,
  /(^|\/)credentials?([._-][^/]*)?$/i,
  /(^|\/)secrets?([._-][^/]*)?\.(json|ya?ml|toml|ini|txt|env|properties|xml)$/i,
  /service[-_]?account[^/]*\.json$/i,
  /(^|\/)terraform\.tfstate(\.backup)?$/i,
  /(^|\/)\.terraform\//i,
];

export function isSecretFile(relPath: string): boolean {
  const p = relPath.split(path.sep).join('/');
  return SECRET_FILES.some((re) => re.test(p));
}

interface Rule {
  kind: string;
  re: RegExp;
  /** Which capture group is the secret (0: the whole match). */
  group?: number;
  /** Extra check on the captured secret (and the whole match). */
  accept?: (secret: string, match: string) => boolean;
}

/** Shannon entropy in bits per character. */
export function entropy(s: string): number {
  const counts = new Map<string, number>();
  for (const c of s) counts.set(c, (counts.get(c) ?? 0) + 1);
  let h = 0;
  for (const n of counts.values()) {
    const p = n / s.length;
    h -= p * Math.log2(p);
  }
  return h;
}

const RULES: Rule[] = [
  { kind: 'private-key', re: /-----BEGIN [A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----[\s\S]*?(-----END [A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----|$)/g },
  { kind: 'aws-access-key', re: /\b(AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[0-9A-Z]{16}\b/g },
  { kind: 'github-token', re: /\b(gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})\b/g },
  { kind: 'gitlab-token', re: /\bglpat-[A-Za-z0-9_-]{20,}\b/g },
  { kind: 'slack-token', re: /\bxox[abposr]-[A-Za-z0-9-]{10,}\b/g },
  { kind: 'slack-webhook', re: /https:\/\/hooks\.slack\.com\/services\/[A-Za-z0-9/]+/g },
  { kind: 'google-api-key', re: /\bAIza[0-9A-Za-z_-]{35}\b/g },
  { kind: 'stripe-key', re: /\b[sr]k_(live|test)_[0-9A-Za-z]{16,}\b/g },
  { kind: 'openai-key', re: /\bsk-(proj-|ant-)?[A-Za-z0-9_-]{20,}\b/g },
  { kind: 'npm-token', re: /\bnpm_[A-Za-z0-9]{36}\b/g },
  { kind: 'pypi-token', re: /\bpypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{50,}\b/g },
  { kind: 'jwt', re: /\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\b/g },
  // scheme://user:password@host
  { kind: 'url-password', re: /\b[a-z][a-z0-9+.-]*:\/\/[^\s:/@]+:([^\s@/]{3,})@/gi, group: 1 },
  // _authToken=…, "password": "…", API_KEY = '…', secret: … (long and random enough)
  {
    kind: 'secret-assignment',
    re: /\b[\w.-]*(pass(word|wd)?|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|auth[_-]?key|_auth(token)?|client[_-]?secret|credentials?)\b["']?\s*[:=]\s*["']?([^\s"'`,;)}{]{8,})/gi,
    group: 4,
    accept: (s, match) => {
      if (entropy(s) < 3 || /^(true|false|null|undefined|none|process\.env|os\.environ|\$\{|env\()/i.test(s)) return false;
      const quoted = /["'`]\s*$/.test(match.slice(0, match.length - s.length));
      if (quoted) return true; // a string literal of 8+ random-looking characters
      // unquoted: an expression (identifier, member access, call) is code, not a secret
      return /\d/.test(s) && !/^[A-Za-z_$][\w$]*(\.[A-Za-z_$][\w$]*)*(\(.*)?$/.test(s);
    },
  },
  // kube/docker configs: client-key-data / auth fields with long base64
  { kind: 'base64-credential', re: /\b(client-key-data|client-certificate-data|token|auth)["']?\s*:\s*["']?([A-Za-z0-9+/=]{40,})/g, group: 2 },
];

export interface Redaction {
  kind: string;
  count: number;
}

export const REDACTED = (kind: string): string => `[REDACTED:${kind}]`;

/** Replaces secret-looking strings; returns the new text and what was replaced (never the secrets). */
export function redactSecrets(text: string): { text: string; redactions: Redaction[] } {
  const counts = new Map<string, number>();
  let out = text;
  for (const rule of RULES) {
    out = out.replace(rule.re, (...m: unknown[]) => {
      const match = m[0] as string;
      const secret = rule.group ? (m[rule.group] as string | undefined) : match;
      if (!secret || secret.startsWith('[REDACTED:') || (rule.accept && !rule.accept(secret, match))) return match;
      counts.set(rule.kind, (counts.get(rule.kind) ?? 0) + 1);
      return rule.group ? match.replace(secret, REDACTED(rule.kind)) : REDACTED(rule.kind);
    });
  }
  return { text: out, redactions: [...counts].map(([kind, count]) => ({ kind, count })) };
}
