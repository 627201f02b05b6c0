/**
 * The strings of an extension manifest that users read (titles, descriptions, names), for the
 * localization tests: in package.json they are %keys%; in a pseudo-locale VS Code shows them translated.
 */

const VISIBLE_KEY = /^(title|name|displayName|description|markdownDescription|enumDescriptions|fullName)$/;

export interface ManifestString {
  where: string;
  value: string;
  /** Kept as it is in every language: the brand (LIFT) and what users type (@lift and its /commands). */
  kept: boolean;
}

/** The user-visible strings of a manifest's display name, description, capabilities and contributions. */
export function visibleStrings(manifest: { displayName?: unknown; description?: unknown; capabilities?: unknown; contributes?: unknown }): ManifestString[] {
  const out: ManifestString[] = [];
  const walk = (v: unknown, where: string, key = ''): void => {
    if (typeof v === 'string') {
      if (VISIBLE_KEY.test(key)) out.push({ where, value: v, kept: v === 'LIFT' || /\.chatParticipants\[0\](\.commands\[\d+\])?\.name$/.test(where) });
    } else if (Array.isArray(v)) v.forEach((x, i) => walk(x, `${where}[${i}]`, key));
    else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(x, `${where}.${k}`, k);
  };
  const { displayName, description, capabilities, contributes } = manifest;
  walk({ displayName, description, capabilities, contributes }, 'package.json');
  return out;
}
