package crilog

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// Stream names the standard stream a record came from.
type Stream string

const (
	// Stdout is the container's standard output.
	Stdout Stream = "stdout"
	// Stderr is the container's standard error.
	Stderr Stream = "stderr"
)

const (
	tagFull    = 'F'
	tagPartial = 'P'

	// timeLayout is RFC 3339 with a fixed nine-digit fraction, so records sort as text.
	timeLayout = "2006-01-02T15:04:05.000000000Z07:00"
)

// RotatedSuffix is appended to a log path to name the one rotated file Writer keeps.
const RotatedSuffix = ".1"

// Writer appends CRI records to a log file, rotating it by size. While a Writer is open it holds an
// exclusive flock on the current file, which is how readers learn that nobody writes the file any more
// (see WriterActive). A Writer is safe for concurrent use by one goroutine per stream.
type Writer struct {
	path    string
	maxSize int64
	now     func() time.Time

	mu   sync.Mutex // protects f and size
	f    *os.File
	size int64
}

// OpenWriter opens path for appending, creating it and its directory if needed, and locks it.
// maxSize > 0 rotates the file to path+RotatedSuffix once a write would take it past maxSize bytes.
func OpenWriter(path string, maxSize int64) (*Writer, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	f, err := openLocked(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	return &Writer{path: path, maxSize: maxSize, now: time.Now, f: f, size: st.Size()}, nil
}

// openLocked opens path with flag and takes an exclusive, non-blocking flock on it.
func openLocked(path string, flag int) (*os.File, error) {
	f, err := os.OpenFile(path, flag, 0o640)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return f, nil
}

// Write appends p, read from stream, as records stamped with the current time: one F record per
// newline-terminated line and a P record for a trailing fragment, so output without a newline (a
// shell prompt) is visible at once. Each call issues one write(2).
func (w *Writer) Write(stream Stream, p []byte) error {
	if len(p) == 0 {
		return nil
	}
	buf := Encode(nil, w.now(), stream, p)
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return os.ErrClosed
	}
	if w.maxSize > 0 && w.size > 0 && w.size+int64(len(buf)) > w.maxSize {
		if err := w.rotate(); err != nil {
			return err
		}
	}
	n, err := w.f.Write(buf)
	w.size += int64(n)
	return err
}

// Encode appends the records for chunk p of stream, stamped ts, to dst and returns the result.
func Encode(dst []byte, ts time.Time, stream Stream, p []byte) []byte {
	stamp := ts.UTC().Format(timeLayout)
	for len(p) > 0 {
		tag := byte(tagFull)
		line := p
		if i := bytes.IndexByte(p, '\n'); i >= 0 {
			line, p = p[:i], p[i+1:]
		} else {
			tag, p = tagPartial, nil
		}
		dst = append(dst, stamp...)
		dst = append(dst, ' ')
		dst = append(dst, stream...)
		dst = append(dst, ' ', tag, ' ')
		dst = append(dst, line...)
		dst = append(dst, '\n')
	}
	return dst
}

// rotate replaces path+RotatedSuffix with the current file and continues in a new, locked file.
// The new file is locked before it appears under path, so path always names a locked file while the
// Writer is open.
func (w *Writer) rotate() error {
	tmp := w.path + ".new"
	nf, err := openLocked(tmp, os.O_WRONLY|os.O_APPEND|os.O_CREATE|os.O_TRUNC)
	if err != nil {
		return err
	}
	// Keep the old contents under path+RotatedSuffix through a hard link, so that path itself is
	// replaced in one rename and never missing.
	old := w.path + ".old"
	os.Remove(old)
	if err := os.Link(w.path, old); err != nil {
		nf.Close()
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(old, w.path+RotatedSuffix); err != nil {
		nf.Close()
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, w.path); err != nil {
		nf.Close()
		return err
	}
	w.f.Close()
	w.f, w.size = nf, 0
	return nil
}

// CopyFrom writes everything read from r as stream records until r reports EOF or an error.
func (w *Writer) CopyFrom(stream Stream, r io.Reader) error {
	buf := make([]byte, 32<<10)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			if werr := w.Write(stream, buf[:n]); werr != nil {
				return werr
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

// Close releases the file and its lock.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return nil
	}
	err := w.f.Close()
	w.f = nil
	return err
}

// WriterActive reports whether a Writer currently holds path. A missing file has no writer.
func WriterActive(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB); err != nil {
		return err == syscall.EWOULDBLOCK
	}
	syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	return false
}
