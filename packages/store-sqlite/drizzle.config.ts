import { defineConfig } from 'drizzle-kit';

/** drizzle-kit settings: `pnpm db:generate` writes versioned migrations to ./drizzle. */
export default defineConfig({
  dialect: 'sqlite',
  schema: './src/schema.ts',
  out: './drizzle',
});
