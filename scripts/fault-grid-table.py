#!/usr/bin/env python3
"""Prints the fault grid (tests/integration/fault_grid_table.py) as the
markdown docs/reliability.md carries: the matrix, what each end means,
and why the other cells are not run by the grid.  test_fault_grid.py
checks that the document holds exactly this text."""

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, 'tests', 'integration'))
import fault_grid_table as t  # noqa: E402

BEGIN = '<!-- fault grid: scripts/fault-grid-table.py -->'
END = '<!-- end of fault grid -->'


def render():
    notes = []          # the reasons, numbered in order of appearance

    def cell(entry):
        if t.is_end(entry):
            return f'**{entry}**'
        if entry not in notes:
            notes.append(entry)
        n = notes.index(entry) + 1
        if t.is_elsewhere(entry):
            return f'elsewhere ({n})'
        return f'— ({n})'

    faults = [f for f, _ in t.FAULTS]
    out = [BEGIN, '', '| state \\ fault | ' + ' | '.join(faults) + ' |',
           '| --- |' + ' --- |' * len(faults)]
    for state, _ in t.STATES:
        out.append(f'| {state} | ' + ' | '.join(
            cell(t.GRID[state][f]) for f in faults) + ' |')
    out += ['', 'How each state is held:', '']
    out += [f'- **{s}**: {how}' for s, how in t.STATES]
    out += ['', 'The faults:', '']
    out += [f'- **{f}**: {what}' for f, what in t.FAULTS]
    out += ['', 'The ends (each checked by the test as written here):', '']
    out += [f'- **{e}**: {what}' for e, what in t.ENDS.items()]
    out += ['', 'Cells the grid does not run:', '']
    out += [f'{i}. {n}' for i, n in enumerate(notes, 1)]
    out += ['', END]
    return '\n'.join(out) + '\n'


if __name__ == '__main__':
    sys.stdout.write(render())
