/**
 * Secret redaction measured on a labelled corpus (test/secretCorpus.ts): credentials in the
 * forms a repository holds them (env, shell, YAML, Kubernetes, TOML, .properties, JSON,
 * Dockerfile, connection strings, URLs, code in a dozen languages, Terraform, XML, vendor tokens)
 * must all be removed; look-alikes (code that reads secrets, placeholders, references, hashes,
 * UUIDs, public keys, …) must come through unchanged. The figures are printed; failures are
 * listed by name.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { redactSecrets } from '../../native/lift/secrets';
import { secretCorpus } from '../secretCorpus';

const { secrets, lookAlikes } = secretCorpus();

test('the corpus has at least 60 distinct secret forms and 60 look-alikes', () => {
  assert.ok(secrets.length >= 60, `${secrets.length} secret forms`);
  assert.ok(lookAlikes.length >= 60, `${lookAlikes.length} look-alikes`);
  assert.equal(new Set(secrets.map((c) => c.name)).size, secrets.length, 'secret form names are distinct');
  assert.equal(new Set(lookAlikes.map((c) => c.name)).size, lookAlikes.length, 'look-alike names are distinct');
  assert.equal(new Set(secrets.map((c) => c.text)).size, secrets.length, 'secret form texts are distinct');
  for (const c of secrets) for (const s of c.secrets) assert.ok(s.length >= 8 && c.text.includes(s), `${c.name}: its secret is in its text`);
});

test('every secret form has its secret removed, and the name that held it kept', (t) => {
  const leaked: string[] = [];
  const mangled: string[] = [];
  for (const c of secrets) {
    const out = redactSecrets(c.text).text;
    const left = c.secrets.filter((s) => out.includes(s));
    if (left.length) leaked.push(`${c.name}: ${JSON.stringify(out.slice(0, 200))}`);
    const lost = (c.keep ?? []).filter((k) => !out.includes(k));
    if (lost.length) mangled.push(`${c.name}: lost ${JSON.stringify(lost)} in ${JSON.stringify(out.slice(0, 200))}`);
  }
  t.diagnostic(`secrets removed: ${secrets.length - leaked.length}/${secrets.length}`);
  assert.deepEqual(leaked, [], `secrets left in the output:\n${leaked.join('\n')}`);
  assert.deepEqual(mangled, [], `names not kept:\n${mangled.join('\n')}`);
});

test('look-alikes come out unchanged (at least 95%)', (t) => {
  const changed: string[] = [];
  for (const c of lookAlikes) {
    const out = redactSecrets(c.text);
    if (out.text !== c.text) changed.push(`${c.name}: ${JSON.stringify(out.text.slice(0, 200))}`);
  }
  const kept = lookAlikes.length - changed.length;
  t.diagnostic(`look-alikes kept: ${kept}/${lookAlikes.length} (${((100 * kept) / lookAlikes.length).toFixed(1)}%)`);
  if (changed.length) t.diagnostic(`changed:\n${changed.join('\n')}`);
  assert.ok(kept / lookAlikes.length >= 0.95, `only ${kept}/${lookAlikes.length} look-alikes kept; changed:\n${changed.join('\n')}`);
});

test('all the forms in one file: each secret removed, the same figures', () => {
  const text = [...secrets.map((c) => c.text), ...lookAlikes.map((c) => c.text)].join('\n\n');
  const out = redactSecrets(text).text;
  for (const c of secrets) for (const s of c.secrets) assert.ok(!out.includes(s), `${c.name}: its secret survives among the others`);
});

test('20 more seeds (other random secrets in the same forms): every secret removed, look-alikes kept', (t) => {
  let forms = 0;
  let alikes = 0;
  let kept = 0;
  const leaked: string[] = [];
  for (let seed = 1; seed <= 20; seed++) {
    const corpus = secretCorpus(seed * 7919);
    for (const c of corpus.secrets) {
      forms++;
      const out = redactSecrets(c.text).text;
      if (c.secrets.some((s) => out.includes(s))) leaked.push(`seed ${seed * 7919}, ${c.name}: ${JSON.stringify(out.slice(0, 200))}`);
    }
    for (const c of corpus.lookAlikes) {
      alikes++;
      if (redactSecrets(c.text).text === c.text) kept++;
    }
  }
  t.diagnostic(`20 seeds: secrets removed ${forms - leaked.length}/${forms}, look-alikes kept ${kept}/${alikes}`);
  assert.deepEqual(leaked, [], `secrets left in the output:\n${leaked.join('\n')}`);
  assert.ok(kept / alikes >= 0.95, `only ${kept}/${alikes} look-alikes kept`);
});

test('redaction is idempotent: redacted text has nothing more to redact', () => {
  for (const c of secrets) {
    const once = redactSecrets(c.text).text;
    assert.equal(redactSecrets(once).text, once, c.name);
  }
});

test("the corpus's own source holds no secret", () => {
  const source = fs.readFileSync(path.join(__dirname, '..', 'secretCorpus.ts'), 'utf8');
  assert.deepEqual(redactSecrets(source).redactions, []);
});
