import pg from 'pg';

/** Run `fn` on a short-lived node-postgres client of `url`, closed afterwards (the peers' schemas are made and read this way). */
export async function withPgClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Drop a peer's schema with everything in it. */
export async function dropPgSchema(place: { url: string; schema: string }): Promise<void> {
  await withPgClient(place.url, (client) => client.query(`DROP SCHEMA IF EXISTS "${place.schema}" CASCADE`));
}
