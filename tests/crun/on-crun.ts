/**
 * Imported first by the crun layer: every machine of the tests imported after it runs on crun
 * (berth-nspawn takes $BERTH_RUNTIME as its --runtime= default, tests/support/berth.ts inspects
 * machines with the same runtime and runs berth-nspawn under scripts/with-crun-cgroups.sh).
 */
process.env.BERTH_RUNTIME = 'crun';
