/**
 * The files that hold credentials, by name: never read, never offered. Apart from the content
 * rules (secrets.ts) so that the extension host can use it without the secretlint preset.
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
