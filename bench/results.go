package main

import (
	"fmt"
	"math"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"
)

// results collects every run: profile name → server name → runs.
type results struct {
	runs map[string]map[string][]measure
}

func newResults() *results { return &results{runs: map[string]map[string][]measure{}} }

func (r *results) add(p *profile, s *server, m measure) {
	if r.runs[p.name] == nil {
		r.runs[p.name] = map[string][]measure{}
	}
	r.runs[p.name][s.name] = append(r.runs[p.name][s.name], m)
}

// agg is the summary of one profile on one server over its runs: medians, and the
// highest peak memory.
type agg struct {
	n             int
	value, cpuPer float64
	p50, p99      time.Duration
	rss           int64
	note          string
	values        []float64
}

func (r *results) agg(profile, server string) (agg, bool) {
	ms := r.runs[profile][server]
	if len(ms) == 0 {
		return agg{}, false
	}
	a := agg{n: len(ms), note: ms[0].note}
	var v, c []float64
	var p50, p99 []time.Duration
	for _, m := range ms {
		v = append(v, m.value)
		c = append(c, m.cpuPer)
		p50 = append(p50, m.p50)
		p99 = append(p99, m.p99)
		a.rss = max(a.rss, m.rss)
	}
	a.values = v
	a.value, a.cpuPer = median(v), median(c)
	a.p50, a.p99 = median(p50), median(p99)
	return a, true
}

func median[T int64 | float64 | time.Duration](v []T) T {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// row is one line of the tables: an s3proxy variant against versitygw.
type row struct {
	p       *profile
	label   string
	s3, vgw agg
	hasS3   bool
	hasVGW  bool
	base    bool // the -compare binary: shown, not checked against the targets
}

// advantage is how many times better s3proxy is: throughput ratio, or latency
// ratio inverted.
func (w row) advantage() float64 {
	if !w.hasS3 || !w.hasVGW || w.s3.value == 0 || w.vgw.value == 0 {
		return math.NaN()
	}
	if w.p.unit == unitMs {
		return w.vgw.value / w.s3.value
	}
	return w.s3.value / w.vgw.value
}

func (w row) cpuRatio() float64 {
	if !w.hasS3 || !w.hasVGW || w.vgw.cpuPer == 0 {
		return math.NaN()
	}
	return w.s3.cpuPer / w.vgw.cpuPer
}

// target is one of issue 6's goals, checked against a row.
type target struct {
	text string
	ok   bool
	have string
}

func (r *results) rows(sel []*profile, e *environment) []row {
	var out []row
	for _, p := range sel {
		for _, s := range e.servers {
			if s.kind != kindS3proxy || (s.pgOnly() && !p.pgVariant) {
				continue
			}
			w := row{p: p, label: p.title}
			switch {
			case s.base():
				w.label += " [-compare binary]"
				if s.variant == variantBasePG {
					w.label += " (" + variantPG + ")"
				}
				w.base = true
			case p.pgVariant:
				w.label += " (" + s.variant + ")"
			}
			w.s3, w.hasS3 = r.agg(p.name, s.name)
			w.vgw, w.hasVGW = r.agg(p.name, "versitygw")
			out = append(out, w)
		}
		if e.server(kindS3proxy, variantSQLite) == nil {
			w := row{p: p, label: p.title}
			w.vgw, w.hasVGW = r.agg(p.name, "versitygw")
			out = append(out, w)
		}
	}
	return out
}

func targetsOf(rows []row) []target {
	var ts []target
	for _, w := range rows {
		if !w.hasS3 || w.base {
			continue
		}
		adv := w.advantage()
		check := func(text string, ok bool, have string) {
			ts = append(ts, target{text: text, ok: ok, have: have})
		}
		switch {
		case strings.HasPrefix(w.p.name, "put-1m"), strings.HasPrefix(w.p.name, "get-1m"), strings.HasPrefix(w.p.name, "mpu-64m"):
			if w.hasVGW {
				check(w.label+": ≥ 1.2× versitygw", adv >= 1.2, fmt.Sprintf("%.2f×", adv))
			}
			if w.hasVGW && !strings.HasPrefix(w.p.name, "mpu") {
				c := w.cpuRatio()
				check(w.label+": CPU-s/GiB ≤ 0.8× versitygw", c <= 0.8, fmt.Sprintf("%.2f×", c))
			}
		case w.p.name == "mixed-4k":
			if w.hasVGW {
				check(w.label+": ≥ 1.0× versitygw", adv >= 1.0, fmt.Sprintf("%.2f×", adv))
			}
		case w.p.name == "reupload":
			if w.hasVGW {
				check(w.label+": ≥ 20× versitygw", adv >= 20, fmt.Sprintf("%.1f×", adv))
			}
		case w.p.name == "complete-1000":
			check("1,000-part Complete < 1 s", w.s3.value < 1000 && w.s3.note == "", fmt.Sprintf("%.1f ms %s", w.s3.value, w.s3.note))
		case w.p.name == "list-1m":
			check("ListObjectsV2 page over 1M keys < 50 ms", w.s3.value < 50 && w.s3.note == "", fmt.Sprintf("%.1f ms %s", w.s3.value, w.s3.note))
		}
		check(w.label+": peak s3proxy RSS < 100 MiB", w.s3.rss < 100*mib, fmt.Sprintf("%d MiB", w.s3.rss/mib))
	}
	return ts
}

func fmtValue(a agg, ok bool, unit string) string {
	if !ok {
		return "—"
	}
	s := fmt.Sprintf("%.1f %s", a.value, unit)
	if unit == unitOps || unit == unitMiBs {
		s = fmt.Sprintf("%.0f %s", a.value, unit)
	}
	if a.note != "" {
		s += " (" + a.note + ")"
	}
	return s
}

func fmtRatio(f float64) string {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return "—"
	}
	return fmt.Sprintf("%.2f×", f)
}

func fmtDur(d time.Duration) string {
	switch {
	case d == 0:
		return "—"
	case d < time.Millisecond:
		return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
	case d < 100*time.Millisecond:
		return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
	default:
		return fmt.Sprintf("%.0fms", float64(d)/float64(time.Millisecond))
	}
}

func (r *results) render(sel []*profile, e *environment, o options, took time.Duration) string {
	var b strings.Builder
	rows := r.rows(sel, e)
	fmt.Fprintf(&b, "## s3proxy vs versitygw — %s\n\n", time.Now().UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(&b, "%s\n\n", machineNote())
	fmt.Fprintf(&b, "Each profile ran %d time(s) on each server, alternating; figures are medians over the runs, peak RSS the highest sample (every 10 ms) of any run. Total %s.\n", o.reps, took.Round(time.Second))
	if o.tls {
		b.WriteString("\nOver HTTPS (-tls): both servers serve S3 with the same self-signed P-256 certificate (TLS 1.3); the SDKs send unsigned payloads with trailing checksums, and no GET can use sendfile.\n")
	}
	if e.pgNote != "" {
		fmt.Fprintf(&b, "Note: %s.\n", e.pgNote)
	}
	b.WriteString("\n### Throughput and latency (ratio: how many times better s3proxy is)\n\n")
	b.WriteString("| profile | s3proxy | versitygw | ratio | s3proxy p50 / p99 | versitygw p50 / p99 |\n|---|---:|---:|---:|---:|---:|\n")
	for _, w := range rows {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s / %s | %s / %s |\n", w.label,
			fmtValue(w.s3, w.hasS3, w.p.unit), fmtValue(w.vgw, w.hasVGW, w.p.unit), fmtRatio(w.advantage()),
			fmtDur(w.s3.p50), fmtDur(w.s3.p99), fmtDur(w.vgw.p50), fmtDur(w.vgw.p99))
	}
	b.WriteString("\n### Server cost (CPU from /proc utime+stime; ratio s3proxy ÷ versitygw, lower is better)\n\n")
	b.WriteString("| profile | s3proxy CPU | versitygw CPU | ratio | s3proxy peak RSS | versitygw peak RSS |\n|---|---:|---:|---:|---:|---:|\n")
	for _, w := range rows {
		unit := "CPU-s/GiB"
		if w.p.perOps {
			unit = "CPU-s/1k ops"
		}
		cpu := func(a agg, ok bool) string {
			if !ok {
				return "—"
			}
			return fmt.Sprintf("%.2f %s", a.cpuPer, unit)
		}
		rss := func(a agg, ok bool) string {
			if !ok {
				return "—"
			}
			return fmt.Sprintf("%d MiB", a.rss/mib)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", w.label, cpu(w.s3, w.hasS3), cpu(w.vgw, w.hasVGW),
			fmtRatio(w.cpuRatio()), rss(w.s3, w.hasS3), rss(w.vgw, w.hasVGW))
	}
	b.WriteString("\n### Every run (headline figure)\n\n| profile | s3proxy runs | versitygw runs |\n|---|---|---|\n")
	for _, w := range rows {
		list := func(a agg) string {
			var s []string
			for _, v := range a.values {
				s = append(s, fmt.Sprintf("%.1f", v))
			}
			return strings.Join(s, ", ")
		}
		fmt.Fprintf(&b, "| %s | %s | %s |\n", w.label, list(w.s3), list(w.vgw))
	}
	ts := targetsOf(rows)
	if o.short {
		b.WriteString("\nSmoke run (-short): sizes are tiny, so the targets are not evaluated.\n")
	} else if len(ts) > 0 {
		b.WriteString("\n### Targets (issue 6)\n\n")
		for _, t := range ts {
			mark := "met"
			if !t.ok {
				mark = "NOT met"
			}
			fmt.Fprintf(&b, "- %s — %s: %s\n", t.text, t.have, mark)
		}
	}
	return b.String()
}

// machineNote describes the machine the figures come from.
func machineNote() string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "model name"); ok {
				model = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	kernel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	load, _ := os.ReadFile("/proc/loadavg")
	return fmt.Sprintf("Machine: %d CPUs (%s), Linux %s, %s; load average at the end: %s.", runtime.NumCPU(), model,
		strings.TrimSpace(string(kernel)), runtime.Version(), strings.Join(strings.Fields(string(load))[:3], " "))
}
