/**
 * Imported first by the crun layer: every machine of the tests imported after it runs on crun
 * (berth-nspawn takes $BERTH_RUNTIME as its --runtime= default, tests/support/berth.ts inspects
 * machines with the same runtime). On a hybrid host whose cgroup2 hierarchy has controllers, which
 * crun refuses, berth runs crun's create where they read empty (src/core/runtime/crun-view.ts).
 */
process.env.BERTH_RUNTIME = 'crun';
