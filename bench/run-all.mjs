// npm run bench: P1-P5 with the peers side by side, P6 (serve), P8 (chains) and P9 (the lock storm). Figures, not assertions.
import { benchSubmit } from './p1-submit.mjs';
import { benchDrain } from './p2-drain.mjs';
import { benchScaling } from './p3-scaling.mjs';
import { benchAbort } from './p4-abort.mjs';
import { benchMemory } from './p5-memory.mjs';
import { benchChain } from './p8-chain.mjs';
import { benchLockStorm } from './p9-lock-storm.mjs';
import { benchServe, printServe } from './p6-serve.mjs';
import { benchSlurm } from './p7-slurm.mjs';
import { fmt, row } from './lib.mjs';

const ratio = (a, b, goal) => `${(a / b).toFixed(2)}x (goal ${goal})`;
console.log(`uwsrun benchmarks, node ${process.version}, ${new Date().toISOString()}`);
console.log(row(['goal', 'uwsrun', 'peer', 'ratio / goal'], [40, 14, 22, 24]));
const p1 = benchSubmit({ runs: 40 });
console.log(row(['P1 submit (median of 40)', fmt(p1.uwsrun), `node -e '' ${fmt(p1.node)}`, ratio(p1.uwsrun, p1.node, '<= 1.3x')], [40, 14, 22, 24]));
console.log(row(['   peers: submit', '', `tsp ${fmt(p1.tsp)} nq ${fmt(p1.nq)}`, ''], [40, 14, 22, 24]));
const p2 = benchDrain({ n: 900, runs: 3 });
console.log(row(['P2 drain 900 queued, limit 2 (median of 3)', fmt(p2.uwsrun), `tsp -S 2 ${fmt(p2.tsp)}`, ratio(p2.uwsrun, p2.tsp, '<= 2x')], [40, 14, 22, 24]));
const p3 = benchScaling({ n: 10_000, runs: 15 });
for (const k of ['submit', 'show', 'abort']) {
  console.log(row([`P3 ${k}, 10,000 finished vs empty`, fmt(p3.full[k]), `empty ${fmt(p3.empty[k])}`, ratio(p3.full[k], p3.empty[k], '<= 1.5x')], [40, 14, 22, 24]));
}
console.log(row(['P3 list --json of 10,000 jobs', fmt(p3.list), '', 'goal < 1000 ms'], [40, 14, 22, 24]));
const p4 = benchAbort({ runs: 10 });
console.log(row(['P4 abort of a running job (median)', fmt(p4.abort), `max ${fmt(p4.max)}`, 'goal <= 300 ms'], [40, 14, 22, 24]));
const p5 = benchMemory({ n: 10_000 });
console.log(row(['P5 runner RSS, 10,000 queued + 2 running', `${p5.rss.toFixed(1)} MB`, '', 'goal < 100 MB'], [40, 14, 22, 24]));
const p8 = benchChain({ n: 200, runs: 3 });
console.log(row(['P8 chain of 200 --after vs 200 free, limit 1', fmt(p8.chain), `free ${fmt(p8.independent)}`, ratio(p8.chain, p8.independent, '<= 2x')], [40, 14, 22, 24]));
const [p9] = await benchLockStorm({ rounds: 1, commands: 150, burners: 8 });
console.log(row(['P9 lock storm: 150 commands, 8 burners', `${p9.gaveUp} exit 5`, `load ${p9.load.toFixed(0)}`, 'goal 0 exit 5'], [40, 14, 22, 24]));
printServe(await benchServe());
const p7 = benchSlurm({ n: 30 });
console.log(row(['P7 30 trivial Slurm jobs, submit to ended', fmt(p7.uwsrun), `sbatch+squeue ${fmt(p7.plain)}`, ratio(p7.uwsrun, p7.plain, '<= 1.2x')], [40, 14, 22, 24]));
console.log(row(['   same peer with --export=NONE', '', `sbatch+squeue ${fmt(p7.exportNone)}`, ratio(p7.uwsrun, p7.exportNone, '')], [40, 14, 22, 24]));
console.log(row(['   same peer with --export=NIL', '', `sbatch+squeue ${fmt(p7.exportNil)}`, ratio(p7.uwsrun, p7.exportNil, '')], [40, 14, 22, 24]));
console.log(row(['P7 runner CPU per Slurm job', fmt(p7.cpuPerJob), '', 'goal <= 5 ms'], [40, 14, 22, 24]));
console.log(row(['P7 Slurm commands/s during the drain', p7.perSecond.toFixed(1), p7.calls ?? '', ''], [40, 14, 22, 24]));
console.log(row(['P7 runner CPU/s while 30 held jobs wait', `${p7.idle.toFixed(1)} ms/s`, '', ''], [40, 14, 22, 24]));
