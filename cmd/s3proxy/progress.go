package main

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/mattn/go-isatty"
)

// progress reports a long admin command's progress: a bar redrawn in place when the
// output is a terminal, a structured log line every few seconds otherwise (so that logs
// stay readable when the command runs under a supervisor).
type progress struct {
	w     io.Writer
	log   *slog.Logger
	name  string
	tty   bool
	start time.Time
	mu    sync.Mutex
	last  time.Time
	cur   progressState
	drawn bool
}

// progressState is one report: chunks done of total, bytes done of totalBytes (0 when
// unknown), a short note for the bar and fields for the log line.
type progressState struct {
	done, total       int64
	bytes, totalBytes int64
	final             bool
	note              string
	fields            []any
	// unit names what done counts ("chunks" when empty). A state with a unit and no
	// totals (a pass whose end is not known in advance) is drawn as a count, not a bar.
	unit string
}

func newProgress(w io.Writer, log *slog.Logger, name string) *progress {
	p := &progress{w: w, log: log, name: name, start: time.Now()}
	if f, ok := w.(interface{ Fd() uintptr }); ok {
		p.tty = isatty.IsTerminal(f.Fd())
	}
	return p
}

func (p *progress) update(s progressState) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cur = s
	every := 5 * time.Second
	if p.tty {
		every = 100 * time.Millisecond
	}
	if !s.final && time.Since(p.last) < every {
		return
	}
	p.last = time.Now()
	p.render()
}

func (p *progress) render() {
	s := p.cur
	rate := float64(s.bytes) / max(time.Since(p.start).Seconds(), 0.001)
	if !p.tty {
		unit := s.unit
		if unit == "" {
			unit = "chunks"
		}
		args := append([]any{unit, s.done, "of", s.total, "bytes", s.bytes, "bytes_per_second", int64(rate)}, s.fields...)
		p.log.Info(p.name+" progress", args...)
		return
	}
	fmt.Fprintf(p.w, "\r%s\033[K", bar(s, rate))
	p.drawn = true
}

// finish draws the last state and ends the bar's line.
func (p *progress) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cur.done > 0 || p.cur.total > 0 {
		p.render()
	}
	if p.drawn {
		fmt.Fprintln(p.w)
	}
}

// bar renders one line: [=====>     ]  45%  123/456 chunks  1.2 GiB/3.4 GiB  12.3 MiB/s
func bar(s progressState, rate float64) string {
	if s.unit != "" && s.total == 0 && s.totalBytes == 0 {
		line := fmt.Sprintf("%d %s", s.done, s.unit)
		if s.note != "" {
			line += "  " + s.note
		}
		return line
	}
	const width = 30
	frac := 1.0
	switch {
	case s.totalBytes > 0:
		frac = float64(s.bytes) / float64(s.totalBytes)
	case s.total > 0:
		frac = float64(s.done) / float64(s.total)
	}
	frac = min(max(frac, 0), 1)
	filled := int(frac * width)
	b := strings.Repeat("=", filled)
	if filled < width {
		b += ">" + strings.Repeat(" ", width-filled-1)
	}
	unit := s.unit
	if unit == "" {
		unit = "chunks"
	}
	line := fmt.Sprintf("[%s] %3.0f%%  %d/%d %s  %s", b, frac*100, s.done, s.total, unit, human(s.bytes))
	if s.totalBytes > 0 {
		line += "/" + human(s.totalBytes)
	}
	line += "  " + human(int64(rate)) + "/s"
	if s.note != "" {
		line += "  " + s.note
	}
	return line
}

// plural is "" for zero, else "N what".
func plural(n int64, what string) string {
	if n == 0 {
		return ""
	}
	return fmt.Sprintf("%d %s", n, what)
}
