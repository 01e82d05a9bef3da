import { ConfigurationError, LifecycleError, isStore, type SessionLimits, type Store } from '@taskmill/contracts';
import { openStore, targetFor } from './connection.js';
import type { DbClock } from './db-clock.js';

/** What the handle needs besides the connection: the clock to set against the store, and the session limits of a store it opens. */
export interface StoreHandleOptions {
  clock?: DbClock;
  sessionLimits?: SessionLimits;
  /** False for reader mode: the schema is only checked, never created or migrated. (Default: true) */
  migrate?: boolean;
}

/**
 * The manager's store: given as an object, or opened on first use from a connection string
 * (docs/behaviour.md#connections), with the schema set up once (retried after a failure). Constructing never connects. In
 * reader mode (`migrate: false`) the schema is only checked, never created or migrated.
 */
export class StoreHandle {
  private store: Store | undefined;
  private opening: Promise<Store> | undefined;
  private settingUp: Promise<void> | undefined;
  private closed = false;

  private readonly target: ReturnType<typeof targetFor>;

  constructor(
    private readonly dbConnection: string | Store,
    dbType: string | undefined,
    private readonly handleOptions: StoreHandleOptions = {},
  ) {
    this.target = targetFor(dbConnection, dbType);
    if (isStore(dbConnection)) this.store = dbConnection;
  }

  /** The store, with the schema set up and the clock set against it. Throws LifecycleError once closed. */
  async ready(): Promise<Store> {
    const store = await this.open();
    this.settingUp ??= this.prepare(store).then(
      () => {
        if (this.store === store) this.setUp = store;
      },
      (error) => {
        this.settingUp = undefined;
        throw error;
      },
    );
    await this.settingUp;
    return store;
  }

  /**
   * The store, synchronously, when it is open with the schema set up (`setup()`, `start()` or a
   * first call finished); else LifecycleError. For work inside an application's transaction,
   * which must not open a connection or migrate in the middle of it.
   */
  readyNow(what: string): Store {
    if (this.closed) throw new LifecycleError('TaskManager is stopped');
    if (!this.setUp || this.store !== this.setUp) throw new LifecycleError(`${what} needs a set-up TaskManager: await tm.setup() (or start()) first`);
    return this.setUp;
  }

  private setUp: Store | undefined;

  /** Set up (or in reader mode check) the schema, then set the clock against the store. */
  private async prepare(store: Store): Promise<void> {
    if (this.handleOptions.migrate ?? true) {
      await store.setup();
    } else {
      if (typeof store.checkSchema !== 'function') {
        throw new ConfigurationError(`The ${store.dialect} store cannot check its schema without migrating it: reader mode (migrate: false) needs a newer store package`);
      }
      await store.checkSchema();
    }
    await this.handleOptions.clock?.sync(store);
  }

  private async open(): Promise<Store> {
    if (this.closed) throw new LifecycleError('TaskManager is stopped');
    if (this.store) return this.store;
    this.opening ??= openStore(this.dbConnection as string, this.target!, this.handleOptions.sessionLimits).then((store) => (this.store = store));
    try {
      return await this.opening;
    } catch (error) {
      this.opening = undefined;
      throw error;
    }
  }

  /** Close for good: the connections this handle opened close; a store passed in stays open. */
  async close(): Promise<void> {
    this.closed = true;
    await this.drop();
  }

  /**
   * Close the connections this handle opened, to be opened again on next use. A store passed in is
   * left alone, and so is `sqlite::memory:`, whose database lives in its one connection.
   */
  async release(): Promise<void> {
    if (this.dbConnection !== 'sqlite::memory:') await this.drop();
  }

  private async drop(): Promise<void> {
    const store = this.store;
    if (typeof this.dbConnection !== 'string' || !store) return;
    this.store = undefined;
    this.opening = undefined;
    this.settingUp = undefined;
    this.setUp = undefined;
    await store.close();
  }
}
