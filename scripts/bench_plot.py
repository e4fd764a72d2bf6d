"""The bench's pictures: one SVG per case and transport, throughput and
remaining RAM against time for each hypervisor, drawn by gnuplot
(gnuplot-nox, from scripts/install-deps) from the source's query-migrate
samples that bench.py takes every 10 ms."""

import os
import shutil
import subprocess

BIN_S = 0.1     # throughput is averaged over bins of this many seconds
MiB = 1 << 20


def throughput(series):
    """[(t, MiB/s)] from [(t, transferred, remaining)]: the bytes sent in
    each BIN_S-long stretch between two samples."""
    out, last = [], None
    for t, sent, _ in series:
        if last is None:
            last = (t, sent)
            continue
        if t - last[0] >= BIN_S:
            out.append((t, (sent - last[1]) / MiB / (t - last[0])))
            last = (t, sent)
    return out


def _write_columns(path, rows):
    with open(path, 'w') as f:
        for row in rows:
            f.write(' '.join(f'{v:.4f}' for v in row) + '\n')


def _script(svg, title, kinds, datadir):
    lines = [
        'set terminal svg size 900,640 dynamic font "sans,11"',
        f'set output "{svg}"',
        'set multiplot layout 2,1 title "{}"'.format(title.replace('"', "'")),
        'set grid', 'set key top right', 'set xlabel "seconds since migrate"',
        'set ylabel "throughput (MiB/s)"', 'set yrange [0:*]',
    ]
    rate = ', '.join(f'"{os.path.join(datadir, k + ".rate")}" using 1:2 '
                     f'with lines lw 2 title "{k}"' for k in kinds)
    left = ', '.join(f'"{os.path.join(datadir, k + ".left")}" using 1:2 '
                     f'with lines lw 2 title "{k}"' for k in kinds)
    lines += [f'plot {rate}', 'set ylabel "remaining RAM (MiB)"',
              f'plot {left}', 'unset multiplot']
    return '\n'.join(lines) + '\n'


def write_plot(svg, title, runs):
    """Draws @runs ({hypervisor: [(t, transferred, remaining)]}) into the
    file @svg.  Returns None, or why there is no picture."""
    if not shutil.which('gnuplot'):
        return 'gnuplot not found (scripts/install-deps installs it)'
    runs = {k: v for k, v in runs.items() if len(v) > 1}
    if not runs:
        return 'no samples'
    datadir = svg[:-len('.svg')] + '.data'
    os.makedirs(datadir, exist_ok=True)
    for kind, series in runs.items():
        _write_columns(os.path.join(datadir, kind + '.rate'),
                       throughput(series))
        _write_columns(os.path.join(datadir, kind + '.left'),
                       [(t, left / MiB) for t, _, left in series])
    script = _script(svg, title, list(runs), datadir)
    with open(os.path.join(datadir, 'plot.gp'), 'w') as f:
        f.write(script)
    r = subprocess.run(['gnuplot'], input=script, text=True,
                       capture_output=True)
    if r.returncode != 0:
        return f'gnuplot failed: {r.stderr.strip()[:300]}'
    return None
