import { defineConfig } from 'drizzle-kit';

/** drizzle-kit config: `pnpm db:generate` writes the migrations of src/schema.ts to ./drizzle. */
export default defineConfig({
  dialect: 'mysql',
  schema: './src/schema.ts',
  out: './drizzle',
});
