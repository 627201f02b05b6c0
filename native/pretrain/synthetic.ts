/**
 * Generated specifications for the pre-LIFT stage: made-up components, each described in a
 * paragraph or two that holds several facts (ports, counts, durations, sizes, codes, owners,
 * paths, versions, schedules), in varied sentence shapes — so that the default model learns to
 * answer a fact from a paragraph of many, as real specs are written. Seeded; used for training
 * only (the quality evaluation uses documents written independently: native/bench/quality).
 */

const PARTS = ['amber', 'basalt', 'cedar', 'delta', 'ember', 'flint', 'granite', 'hollow', 'iris', 'jasper', 'kite', 'lark', 'maple', 'nimbus', 'opal', 'pike', 'quill', 'rook', 'sable', 'thistle', 'umbra', 'vale', 'wren', 'yarrow', 'zinc', 'alder', 'birch', 'crane', 'dune', 'egret'];
const KINDS = ['service', 'gateway', 'scheduler', 'indexer', 'proxy', 'worker', 'cache', 'exporter', 'registry', 'collector', 'relay', 'store', 'agent', 'daemon', 'router'];
const TEAMS = ['Blue Harbor', 'Copper Fox', 'Night Owl', 'Silver Birch', 'Red Kite', 'Stone Bridge', 'Iron Gate', 'Green Field', 'North Star', 'Quiet Lake'];
const PEOPLE = ['Ana Ribeiro', 'Jonas Weber', 'Priya Nair', 'Kenji Mori', 'Lucia Ferrante', 'Omar Haddad', 'Freya Olsen', 'Tariq Aziz', 'Mei Lin', 'Sven Dahl'];
const DAYS = ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday'];

export interface SyntheticDoc {
  path: string;
  text: string;
}

/** One component's facts as clauses: each attribute has several ways of being said. */
function clauses(name: string, r: (n: number) => number, pick: <T>(xs: readonly T[]) => T): string[] {
  const N = name;
  const port = 1024 + r(60000);
  const retries = 2 + r(11);
  const minutes = 2 + r(118);
  const seconds = 3 + r(177);
  const size = `${1 + r(512)} ${pick(['KiB', 'MiB', 'GiB'])}`;
  const code = `${name.slice(0, 3).toUpperCase()}-${100 + r(900)}`;
  const team = pick(TEAMS);
  const person = pick(PEOPLE);
  const dir = `/${pick(['var/lib', 'srv', 'opt', 'data'])}/${name.split(' ')[0]}/${pick(['state', 'cache', 'spool', 'blobs'])}`;
  const version = `${1 + r(9)}.${r(20)}.${r(10)}`;
  const time = `${String(r(24)).padStart(2, '0')}:${String(r(60)).padStart(2, '0')} UTC`;
  const env = `${name.split(' ')[0]!.toUpperCase()}_${pick(['TOKEN_TTL', 'MAX_CONN', 'LOG_LEVEL', 'QUEUE_DEPTH', 'REGION'])}`;
  const workers = 2 + r(62);
  const day = pick(DAYS);
  const all = [
    pick([`The ${N} listens on port ${port}`, `The ${N} accepts connections on TCP port ${port}`, `Clients reach the ${N} on port ${port}`, `Port ${port} is where the ${N} listens`]),
    pick([`failed requests are retried ${retries} times`, `it retries a failed call at most ${retries} times`, `a failing job is attempted ${retries} times before it is dropped`]),
    pick([`cached entries expire after ${minutes} minutes`, `its cache keeps entries for ${minutes} minutes`, `entries in its cache live for ${minutes} minutes`]),
    pick([`idle connections are closed after ${seconds} seconds`, `a request times out after ${seconds} seconds`, `the timeout for upstream calls is ${seconds} seconds`]),
    pick([`payloads larger than ${size} are rejected with error ${code}`, `a body over ${size} fails with code ${code}`, `uploads may not exceed ${size}; larger ones get error ${code}`]),
    pick([`it is owned by the ${team} team`, `the ${team} team maintains it`, `on-call duty belongs to the ${team} team`, `${person} is the owner of the ${N}`]),
    pick([`its state is kept under ${dir}`, `data is written to ${dir}`, `it stores its files in ${dir}`]),
    pick([`the current release is version ${version}`, `production runs version ${version}`, `it was upgraded to version ${version}`]),
    pick([`a nightly compaction starts at ${time}`, `backups are taken every day at ${time}`, `its batch run begins at ${time}`]),
    pick([`the variable ${env} overrides the default`, `operators tune it with ${env}`, `set ${env} to change this behaviour`]),
    pick([`it runs ${workers} workers`, `a pool of ${workers} threads serves requests`, `${workers} replicas are deployed`]),
    pick([`deployments happen every ${day}`, `new builds ship on ${day}`, `maintenance windows fall on ${day}`]),
  ];
  // five to eight of the twelve, the port (the anchor sentence) first
  const rest = all.slice(1).sort(() => r(3) - 1).slice(0, 4 + r(4));
  return [all[0]!, ...rest];
}

/** Joins clauses into sentences of one to three clauses each, pronouns after the first. */
function paragraph(cls: string[], r: (n: number) => number): string {
  const sentences: string[] = [];
  for (let i = 0; i < cls.length; ) {
    const n = Math.min(cls.length - i, 1 + r(3));
    const part = cls.slice(i, i + n);
    const joined = part.length === 1 ? part[0]! : part.length === 2 ? `${part[0]} and ${part[1]}` : `${part[0]}, ${part[1]}, and ${part[2]}`;
    sentences.push(`${joined.charAt(0).toUpperCase()}${joined.slice(1)}.`);
    i += n;
  }
  // a paragraph break somewhere in the middle for longer descriptions
  if (sentences.length > 3 && r(2)) return `${sentences.slice(0, 2).join(' ')}\n\n${sentences.slice(2).join(' ')}`;
  return sentences.join(' ');
}

/** `n` specifications of 3–8 components each, seeded. */
export function syntheticSpecs(n: number, seed: number): SyntheticDoc[] {
  let s = seed >>> 0 || 1;
  const r = (k: number): number => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return Math.floor((s / 2 ** 32) * k);
  };
  const pick = <T>(xs: readonly T[]): T => xs[r(xs.length)]!;
  const docs: SyntheticDoc[] = [];
  for (let d = 0; d < n; d++) {
    const system = `${pick(PARTS)} ${pick(['platform', 'pipeline', 'cluster', 'suite'])}`;
    const used = new Set<string>();
    const sections: string[] = [];
    for (let c = 0, count = 3 + r(6); c < count; c++) {
      let name: string;
      do name = `${pick(PARTS)} ${pick(KINDS)}`;
      while (used.has(name));
      used.add(name);
      sections.push(`## ${name.charAt(0).toUpperCase()}${name.slice(1)}\n${paragraph(clauses(name, r, pick), r)}\n`);
    }
    const title = `${system.charAt(0).toUpperCase()}${system.slice(1)}`;
    docs.push({ path: `specs/${system.replace(/\s+/g, '-')}-${d}.md`, text: `# ${title}: specification\n\nThis document describes the components of the ${system}.\n\n${sections.join('\n')}` });
  }
  return docs;
}
