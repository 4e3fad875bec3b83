package crilog

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 22, 4, 2, 50, 274515528, time.UTC)

func TestEncode(t *testing.T) {
	tests := []struct {
		name   string
		stream Stream
		in     string
		want   string
	}{
		{name: "one line", stream: Stdout, in: "hello\n", want: "2026-11-22T04:02:50.274515528Z stdout F hello\n"},
		{name: "two lines", stream: Stderr, in: "a\nb\n", want: "2026-11-22T04:02:50.274515528Z stderr F a\n2026-11-22T04:02:50.274515528Z stderr F b\n"},
		{name: "trailing fragment", stream: Stdout, in: "a\n/ # ", want: "2026-11-22T04:02:50.274515528Z stdout F a\n2026-11-22T04:02:50.274515528Z stdout P / # \n"},
		{name: "empty line", stream: Stdout, in: "\n", want: "2026-11-22T04:02:50.274515528Z stdout F \n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(Encode(nil, t0, tt.stream, []byte(tt.in))); got != tt.want {
				t.Errorf("Encode(%q) = %q; want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseRecord(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    Record
		wantErr bool
	}{
		{name: "full", in: "2026-11-22T04:02:50.274515528Z stdout F hi there", want: Record{Time: t0, Stream: Stdout, Content: []byte("hi there")}},
		{name: "partial", in: "2026-11-22T04:02:50.274515528Z stderr P x", want: Record{Time: t0, Stream: Stderr, Partial: true, Content: []byte("x")}},
		{name: "empty content", in: "2026-11-22T04:02:50.274515528Z stdout F", want: Record{Time: t0, Stream: Stdout}},
		{name: "containerd trims zeros", in: "2026-11-22T04:02:50.2745Z stdout F a", want: Record{Time: time.Date(2026, 11, 22, 4, 2, 50, 274500000, time.UTC), Stream: Stdout, Content: []byte("a")}},
		{name: "bad time", in: "yesterday stdout F a", wantErr: true},
		{name: "bad stream", in: "2026-11-22T04:02:50Z stdin F a", wantErr: true},
		{name: "bad tag", in: "2026-11-22T04:02:50Z stdout X a", wantErr: true},
		{name: "truncated", in: "2026-11-22T04:02:50Z stdout", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseRecord([]byte(tt.in))
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParseRecord(%q) error = %v; want error %v", tt.in, err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if !got.Time.Equal(tt.want.Time) || got.Stream != tt.want.Stream || got.Partial != tt.want.Partial || !bytes.Equal(got.Content, tt.want.Content) {
				t.Errorf("ParseRecord(%q) = %+v; want %+v", tt.in, got, tt.want)
			}
		})
	}
}

// writeLog writes chunks with timestamps t0, t0+1s, ... and closes the writer.
func writeLog(t *testing.T, path string, maxSize int64, chunks []chunk) {
	t.Helper()
	w, err := OpenWriter(path, maxSize)
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range chunks {
		ts := t0.Add(time.Duration(i) * time.Second)
		w.now = func() time.Time { return ts }
		if err := w.Write(c.stream, []byte(c.data)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

type chunk struct {
	stream Stream
	data   string
}

func TestRead(t *testing.T) {
	chunks := []chunk{
		{Stdout, "one\n"},
		{Stderr, "err1\n"},
		{Stdout, "two "},
		{Stdout, "halves\nthree\n"},
		{Stdout, "prompt> "},
	}
	tests := []struct {
		name       string
		opts       Options
		wantStdout string
		wantStderr string
	}{
		{name: "all", opts: Options{Tail: -1}, wantStdout: "one\ntwo halves\nthree\nprompt> ", wantStderr: "err1\n"},
		{name: "tail 2", opts: Options{Tail: 2}, wantStdout: "three\nprompt> "},
		{name: "tail 3 joins fragments", opts: Options{Tail: 3}, wantStdout: "two halves\nthree\nprompt> "},
		{name: "tail 0", opts: Options{Tail: 0}},
		{name: "since", opts: Options{Tail: -1, Since: t0.Add(2 * time.Second)}, wantStdout: "two halves\nthree\nprompt> "},
		{name: "timestamps once per line", opts: Options{Tail: 2, Timestamps: true},
			wantStdout: "2026-11-22T04:02:53.274515528Z three\n2026-11-22T04:02:54.274515528Z prompt> "},
		{name: "limit bytes", opts: Options{Tail: -1, LimitBytes: 6}, wantStdout: "one\n", wantStderr: "er"},
		{name: "follow ends without writer", opts: Options{Tail: 1, Follow: true}, wantStdout: "prompt> "},
	}
	path := filepath.Join(t.TempDir(), "0.log")
	writeLog(t, path, 0, chunks)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			if err := Read(context.Background(), path, tt.opts, &out, &errb); err != nil {
				t.Fatalf("Read(%+v) = %v", tt.opts, err)
			}
			if out.String() != tt.wantStdout || errb.String() != tt.wantStderr {
				t.Errorf("Read(%+v) = stdout %q, stderr %q; want %q, %q", tt.opts, out.String(), errb.String(), tt.wantStdout, tt.wantStderr)
			}
		})
	}
}

func TestReadMissingFile(t *testing.T) {
	var out bytes.Buffer
	if err := Read(context.Background(), filepath.Join(t.TempDir(), "none.log"), Options{Tail: -1, Follow: true}, &out, &out); err != nil || out.Len() != 0 {
		t.Errorf("Read(missing) = %v, %q; want nil, empty", err, out.String())
	}
}

func TestRotation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "0.log")
	var chunks []chunk
	for i := 0; i < 30; i++ {
		chunks = append(chunks, chunk{Stdout, strings.Repeat("x", 40) + "\n"})
	}
	// Each record is 81 bytes; 1000 bytes hold 12 of them.
	writeLog(t, path, 1000, chunks)
	if _, err := os.Stat(path + RotatedSuffix); err != nil {
		t.Fatalf("rotated file: %v", err)
	}
	st, _ := os.Stat(path)
	if st.Size() > 1000 {
		t.Errorf("size of %s = %d; want <= 1000", path, st.Size())
	}
	// Two rotations happened: 12 lines remain in the rotated file and 6 in the current one.
	for _, tail := range []struct{ tail, want int64 }{{15, 15}, {-1, 18}, {3, 3}} {
		var out bytes.Buffer
		if err := Read(context.Background(), path, Options{Tail: tail.tail}, &out, &out); err != nil {
			t.Fatal(err)
		}
		if got := int64(strings.Count(out.String(), "\n")); got != tail.want {
			t.Errorf("Read(tail %d across rotation) gave %d lines; want %d", tail.tail, got, tail.want)
		}
	}
}

func TestWriterActive(t *testing.T) {
	path := filepath.Join(t.TempDir(), "0.log")
	if WriterActive(path) {
		t.Errorf("WriterActive(missing) = true; want false")
	}
	w, err := OpenWriter(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !WriterActive(path) {
		t.Errorf("WriterActive(open) = false; want true")
	}
	if _, err := OpenWriter(path, 0); err == nil {
		t.Errorf("second OpenWriter(%s) succeeded; want lock error", path)
	}
	w.Close()
	if WriterActive(path) {
		t.Errorf("WriterActive(closed) = true; want false")
	}
}

// syncBuffer is a bytes.Buffer safe for one writer and one reader goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestFollow(t *testing.T) {
	path := filepath.Join(t.TempDir(), "0.log")
	w, err := OpenWriter(path, 300)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(Stdout, []byte("older\nold\n")); err != nil {
		t.Fatal(err)
	}
	var out syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- Read(context.Background(), path, Options{Tail: 1, Follow: true, PollInterval: 5 * time.Millisecond}, &out, &out)
	}()
	waitFor(t, "the tail", func() bool { return out.String() == "old\n" })
	// New lines are printed as they come, across rotations.
	var want strings.Builder
	want.WriteString("old\n")
	for i := 0; i < 20; i++ {
		line := strings.Repeat(string(rune('a'+i)), 30) + "\n"
		want.WriteString(line)
		if err := w.Write(Stdout, []byte(line)); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "line "+line, func() bool { return strings.HasSuffix(out.String(), line) })
	}
	w.Close()
	if err := <-done; err != nil {
		t.Fatalf("Read(follow) = %v", err)
	}
	if out.String() != want.String() {
		t.Errorf("Read(follow) = %q; want %q", out.String(), want.String())
	}
}

func TestFollowCancel(t *testing.T) {
	path := filepath.Join(t.TempDir(), "0.log")
	w, err := OpenWriter(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Read(ctx, path, Options{Tail: -1, Follow: true}, nil, nil); err != context.Canceled {
		t.Errorf("Read(cancelled) = %v; want %v", err, context.Canceled)
	}
}
