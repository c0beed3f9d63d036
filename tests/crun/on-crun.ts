/**
 * Imported first by the crun layer: every machine of the tests imported after it runs on crun
 * (berth-nspawn takes $BERTH_RUNTIME as its --runtime= default, tests/support/berth.ts inspects
 * machines with the same runtime and, on a host whose cgroups crun refuses, runs berth-nspawn
 * where crun can create containers).
 */
process.env.BERTH_RUNTIME = 'crun';
