package crilog

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// DefaultPollInterval is how often Read looks for new records when following a file.
const DefaultPollInterval = 100 * time.Millisecond

// Options selects and formats the records Read writes.
type Options struct {
	// Tail limits output to the last Tail lines: negative means every line, zero means none (with
	// Follow, only lines written from now on). A line is a run of P records ended by an F record.
	Tail int64
	// Since drops records stamped before it, when set.
	Since time.Time
	// Timestamps prefixes every line with its RFC 3339 timestamp and a space.
	Timestamps bool
	// LimitBytes stops output after that many bytes, when positive.
	LimitBytes int64
	// Follow keeps reading new records until no Writer holds the file any more or ctx ends.
	Follow bool
	// PollInterval is how often a follower checks for new records; zero means DefaultPollInterval.
	PollInterval time.Duration
}

// Record is one parsed line of a CRI log file.
type Record struct {
	// Time is when the logger received the content.
	Time time.Time
	// Stream is the stream the content came from.
	Stream Stream
	// Partial is true for a P record: the line continues in the next record of the same stream.
	Partial bool
	// Content is the text without the line terminator.
	Content []byte
}

// errMalformed reports a line that is not a CRI record.
var errMalformed = errors.New("crilog: malformed record")

// errLimit ends a Read that reached Options.LimitBytes.
var errLimit = errors.New("crilog: byte limit reached")

// ParseRecord parses one line of a log file, without its trailing newline.
// Content aliases line.
func ParseRecord(line []byte) (Record, error) {
	var r Record
	i := bytes.IndexByte(line, ' ')
	if i < 0 {
		return r, fmt.Errorf("%w: %q", errMalformed, line)
	}
	ts, err := time.Parse(time.RFC3339Nano, string(line[:i]))
	if err != nil {
		return r, fmt.Errorf("%w: %v", errMalformed, err)
	}
	rest := line[i+1:]
	j := bytes.IndexByte(rest, ' ')
	if j < 0 {
		return r, fmt.Errorf("%w: %q", errMalformed, line)
	}
	switch s := Stream(rest[:j]); s {
	case Stdout, Stderr:
		r.Stream = s
	default:
		return r, fmt.Errorf("%w: stream %q", errMalformed, s)
	}
	rest = rest[j+1:]
	if len(rest) == 0 {
		return r, fmt.Errorf("%w: %q", errMalformed, line)
	}
	switch rest[0] {
	case tagFull:
	case tagPartial:
		r.Partial = true
	default:
		return r, fmt.Errorf("%w: tag %q", errMalformed, rest[0])
	}
	if len(rest) > 1 {
		if rest[1] != ' ' {
			return r, fmt.Errorf("%w: %q", errMalformed, line)
		}
		r.Content = rest[2:]
	}
	r.Time = ts
	return r, nil
}

// Read writes the records of the log file at path (and of its rotated predecessor, for history) to
// stdout and stderr as plain text, as selected by opts. A missing file is an empty log. Read
// returns nil at the end of the log, when following ends because no Writer holds the file, or when
// LimitBytes is reached; it returns ctx.Err() when ctx ends first.
func Read(ctx context.Context, path string, opts Options, stdout, stderr io.Writer) error {
	p := &printer{opts: opts, out: [2]io.Writer{stdout, stderr}, atStart: [2]bool{true, true}}
	err := read(ctx, path, opts, p)
	if errors.Is(err, errLimit) {
		return nil
	}
	return err
}

func read(ctx context.Context, path string, opts Options, p *printer) error {
	if opts.Tail == 0 && !opts.Follow {
		return nil
	}
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer func() { f.Close() }()
	fl := &follower{f: f, br: bufio.NewReaderSize(f, 64<<10)}

	if opts.Tail == 0 {
		// Only new records: start at the end of the current file.
		if _, err := f.Seek(0, io.SeekEnd); err != nil {
			return err
		}
		fl.br.Reset(f)
	} else {
		var sink recordSink = p
		var tb *tailBuffer
		if opts.Tail > 0 {
			tb = &tailBuffer{n: opts.Tail, since: opts.Since}
			sink = tb
		}
		if err := readRotated(path+RotatedSuffix, sink); err != nil {
			return err
		}
		if err := fl.drain(sink); err != nil {
			return err
		}
		if tb != nil {
			if err := tb.flush(p); err != nil {
				return err
			}
		}
	}
	if !opts.Follow {
		return nil
	}
	interval := opts.PollInterval
	if interval <= 0 {
		interval = DefaultPollInterval
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if err := fl.drain(p); err != nil {
			return err
		}
		if cur, err := os.Stat(path); err == nil {
			if st, err := fl.f.Stat(); err == nil && !os.SameFile(cur, st) {
				// Rotated: the old file is complete once path names a new one.
				if err := fl.drain(p); err != nil {
					return err
				}
				nf, err := os.Open(path)
				if err != nil {
					return err
				}
				fl.f.Close()
				fl.f, f = nf, nf
				fl.br.Reset(nf)
				fl.pending = nil
				continue
			}
		}
		if !WriterActive(path) {
			// The writer has finished: whatever it wrote is in the file now.
			return fl.drain(p)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// readRotated feeds every record of the rotated file at path to sink; a missing file has none.
func readRotated(path string, sink recordSink) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	fl := &follower{f: f, br: bufio.NewReaderSize(f, 64<<10)}
	return fl.drain(sink)
}

// recordSink consumes parsed records.
type recordSink interface {
	add(Record) error
}

// follower reads complete lines from a file that may still grow.
type follower struct {
	f       *os.File
	br      *bufio.Reader
	pending []byte // an incomplete last line, completed by a later read
}

// drain feeds every complete line now in the file to sink; malformed lines are skipped.
func (fl *follower) drain(sink recordSink) error {
	for {
		line, err := fl.br.ReadBytes('\n')
		if len(line) > 0 {
			if len(fl.pending) > 0 {
				line = append(fl.pending, line...)
				fl.pending = nil
			}
			if line[len(line)-1] != '\n' {
				fl.pending = append([]byte(nil), line...)
			} else if r, perr := ParseRecord(line[:len(line)-1]); perr == nil {
				if err := sink.add(r); err != nil {
					return err
				}
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// tailBuffer keeps the records of the last n lines.
type tailBuffer struct {
	n        int64
	since    time.Time
	recs     []Record
	complete int64 // complete lines in recs
}

func (tb *tailBuffer) add(r Record) error {
	if !tb.since.IsZero() && r.Time.Before(tb.since) {
		return nil
	}
	r.Content = append([]byte(nil), r.Content...)
	tb.recs = append(tb.recs, r)
	if !r.Partial {
		tb.complete++
	}
	for tb.complete > tb.n {
		tb.dropFirstLine()
	}
	return nil
}

// dropFirstLine removes the records up to and including the first F record.
func (tb *tailBuffer) dropFirstLine() {
	for i, r := range tb.recs {
		if !r.Partial {
			tb.recs = append(tb.recs[:0:0], tb.recs[i+1:]...)
			tb.complete--
			return
		}
	}
	tb.recs = nil
}

// flush writes the kept records; a trailing unfinished line counts as one of the n lines.
func (tb *tailBuffer) flush(p *printer) error {
	if n := len(tb.recs); n > 0 && tb.recs[n-1].Partial && tb.complete == tb.n {
		tb.dropFirstLine()
	}
	for _, r := range tb.recs {
		if err := p.add(r); err != nil {
			return err
		}
	}
	tb.recs = nil
	return nil
}

// printer formats records as plain text.
type printer struct {
	opts    Options
	out     [2]io.Writer // stdout, stderr
	atStart [2]bool      // whether the next record of a stream starts a line
	written int64
	buf     []byte
}

func (p *printer) add(r Record) error {
	if !p.opts.Since.IsZero() && r.Time.Before(p.opts.Since) {
		return nil
	}
	i := 0
	if r.Stream == Stderr {
		i = 1
	}
	b := p.buf[:0]
	if p.opts.Timestamps && p.atStart[i] {
		b = r.Time.AppendFormat(b, time.RFC3339Nano)
		b = append(b, ' ')
	}
	b = append(b, r.Content...)
	if !r.Partial {
		b = append(b, '\n')
	}
	p.atStart[i] = !r.Partial
	p.buf = b
	limited := false
	if p.opts.LimitBytes > 0 && p.written+int64(len(b)) >= p.opts.LimitBytes {
		b = b[:p.opts.LimitBytes-p.written]
		limited = true
	}
	if p.out[i] != nil && len(b) > 0 {
		if _, err := p.out[i].Write(b); err != nil {
			return err
		}
	}
	p.written += int64(len(b))
	if limited {
		return errLimit
	}
	return nil
}
