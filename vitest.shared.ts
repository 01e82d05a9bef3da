import { defineConfig } from 'vitest/config';

/**
 * Shared vitest settings: resolve workspace packages to their TypeScript sources (the
 * `@taskmill/source` export condition) so tests run without a prior build.
 */
export default defineConfig({
  ssr: { resolve: { conditions: ['@taskmill/source'] } },
  resolve: { conditions: ['@taskmill/source'] },
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
