"""Plot kernel throughput vs size from criterion's results, as SVG.

usage: python3 scripts/plot_benches.py [CRITERION_DIR] [OUT_DIR]
Defaults: target/criterion and docs/. Run `cargo bench --bench kernels`
first. One plot per kernel (uvw, phase, separation): elements per second
against elements, log-log, one line per backend (cpu, gpu = whole call with
transfers, gpu_kernel = dispatch only). Needs only the Python standard library.
"""
import json
import math
import os
import sys

src = sys.argv[1] if len(sys.argv) > 1 else "target/criterion"
out = sys.argv[2] if len(sys.argv) > 2 else "docs"
COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"]


def series(group):
    d = os.path.join(src, group)
    result = {}
    if not os.path.isdir(d):
        return result
    for name in sorted(os.listdir(d)):
        fd = os.path.join(d, name)
        if name == "report" or not os.path.isdir(fd):
            continue
        pts = []
        for size in os.listdir(fd):
            est = os.path.join(fd, size, "new", "estimates.json")
            if size.isdigit() and os.path.exists(est):
                ns = json.load(open(est))["mean"]["point_estimate"]
                pts.append((int(size), int(size) / (ns * 1e-9)))
        if pts:
            result[name] = sorted(pts)
    return result


def svg(group, data, path):
    W, H, L, R, T, B = 640, 400, 70, 150, 30, 50
    xs = [x for pts in data.values() for x, _ in pts]
    ys = [y for pts in data.values() for _, y in pts]
    x0, x1 = math.floor(math.log10(min(xs))), math.ceil(math.log10(max(xs)))
    y0, y1 = math.floor(math.log10(min(ys))), math.ceil(math.log10(max(ys)))
    x1, y1 = max(x1, x0 + 1), max(y1, y0 + 1)
    px = lambda x: L + (math.log10(x) - x0) / (x1 - x0) * (W - L - R)
    py = lambda y: H - B - (math.log10(y) - y0) / (y1 - y0) * (H - T - B)
    s = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">',
         f'<rect width="{W}" height="{H}" fill="white"/>',
         f'<text x="{L}" y="18" font-size="14">{group}: throughput vs size (log-log)</text>']
    for e in range(x0, x1 + 1):
        s.append(f'<line x1="{px(10**e)}" y1="{T}" x2="{px(10**e)}" y2="{H-B}" stroke="#ddd"/>')
        s.append(f'<text x="{px(10**e)}" y="{H-B+16}" text-anchor="middle">1e{e}</text>')
    for e in range(y0, y1 + 1):
        s.append(f'<line x1="{L}" y1="{py(10**e)}" x2="{W-R}" y2="{py(10**e)}" stroke="#ddd"/>')
        s.append(f'<text x="{L-6}" y="{py(10**e)+4}" text-anchor="end">1e{e}</text>')
    s.append(f'<text x="{(L+W-R)/2}" y="{H-12}" text-anchor="middle">elements</text>')
    s.append(f'<text x="16" y="{(T+H-B)/2}" transform="rotate(-90 16 {(T+H-B)/2})" text-anchor="middle">elements / s</text>')
    for i, (name, pts) in enumerate(sorted(data.items())):
        c = COLORS[i % len(COLORS)]
        s.append(f'<polyline fill="none" stroke="{c}" stroke-width="2" points="{" ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in pts)}"/>')
        for x, y in pts:
            s.append(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="3" fill="{c}"/>')
        s.append(f'<text x="{W-R+10}" y="{T+16+18*i}" fill="{c}">{name}</text>')
    s.append("</svg>")
    open(path, "w").write("\n".join(s) + "\n")


for group in ["uvw", "phase", "separation"]:
    data = series(group)
    if data:
        path = os.path.join(out, f"kernels_{group}.svg")
        svg(group, data, path)
        print(f"wrote {path}")
        for name, pts in sorted(data.items()):
            print(f"  {name:>16}: " + ", ".join(f"{x:.0e}: {y:.2e}/s" for x, y in pts))
