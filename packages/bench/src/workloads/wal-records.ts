import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

/*
 * W7's own-database WAL: pg_waldump over an LSN range, keeping only the records of one database
 * (a block of one of its relations, or the commit of a transaction that wrote one), so that other
 * sessions writing to the same server are not counted. Needs pg_waldump and read access to the
 * server's pg_wal directory (`BENCH_PG_WALDIR`), i.e. a bench run on the database's own host.
 */

const run = promisify(execFile);

/** One kind of WAL record of a run: resource manager, operation and the relation its first block is in. */
export interface WalKind {
  kind: string;
  relation: string;
  records: number;
  bytes: number;
  /** bytes of full-page images included in `bytes` */
  fpiBytes: number;
}

/** What pg_waldump found in a range, for one database. */
export interface WalRange {
  bytes: number;
  records: number;
  fpiBytes: number;
  kinds: WalKind[];
}

const LINE = /^rmgr: (\S+)\s+len \(rec\/tot\):\s+(\d+)\/\s*(\d+), tx:\s+(\d+), lsn: \S+, prev \S+, desc: (\S+)(.*)$/;
const BLOCK = /rel (\d+)\/(\d+)\/(\d+) (?:fork \S+ )?blk \d+( FPW)?/g;

/**
 * The records of `dbOid` between two LSNs. `relations` names relfilenodes (as text) for the
 * breakdown; others print as their number. Heap and B-tree records name their operation
 * (INSERT, HOT_UPDATE, INSERT_LEAF …), commits are `Transaction COMMIT`.
 */
export async function walRecords(
  walDir: string,
  from: string,
  to: string,
  dbOid: number,
  relations: Map<string, string>,
  waldump = process.env.BENCH_PG_WALDUMP ?? 'pg_waldump',
): Promise<WalRange> {
  const stdout = await run(waldump, ['-p', walDir, '-s', from, '-e', to], { maxBuffer: 1 << 30 }).then(
    (r) => r.stdout,
    // the last record before `to` not yet on disk: pg_waldump prints what it read, then fails
    (error: { stdout?: string; stderr?: string }) => {
      if (error.stdout && /error in WAL record/.test(error.stderr ?? '')) return error.stdout;
      throw error;
    },
  );
  const db = String(dbOid);
  const ours = new Set<string>();
  const commits: { tx: string; bytes: number; kind: string }[] = [];
  const kinds = new Map<string, WalKind>();
  const add = (kind: string, relation: string, bytes: number, fpiBytes: number) => {
    const key = `${kind}\u0000${relation}`;
    const k = kinds.get(key) ?? { kind, relation, records: 0, bytes: 0, fpiBytes: 0 };
    k.records++;
    k.bytes += bytes;
    k.fpiBytes += fpiBytes;
    kinds.set(key, k);
  };
  for (const line of stdout.split('\n')) {
    const m = LINE.exec(line);
    if (!m) continue;
    const [, rmgr, rec, tot, tx, op, rest] = m;
    const kind = `${rmgr} ${op}`;
    if (rmgr === 'Transaction') {
      if (tx !== '0') commits.push({ tx, bytes: Number(tot), kind });
      continue;
    }
    let relation: string | undefined;
    let fpw = false;
    for (const b of rest.matchAll(BLOCK)) {
      if (b[2] !== db) continue;
      relation ??= relations.get(b[3]) ?? b[3];
      if (b[4]) fpw = true;
    }
    if (relation === undefined) continue;
    if (tx !== '0') ours.add(tx);
    // a record's bytes beyond its own are its images (pg_waldump: rec = the record without them)
    add(kind, relation, Number(tot), fpw ? Number(tot) - Number(rec) : 0);
  }
  for (const c of commits) if (ours.has(c.tx)) add(c.kind, '', c.bytes, 0);
  const list = [...kinds.values()].sort((a, b) => b.bytes - a.bytes);
  return {
    bytes: list.reduce((s, k) => s + k.bytes, 0),
    records: list.reduce((s, k) => s + k.records, 0),
    fpiBytes: list.reduce((s, k) => s + k.fpiBytes, 0),
    kinds: list,
  };
}
