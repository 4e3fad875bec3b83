package raftstore

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"

	"github.com/capstan-io/capstan/raftstore/mvcc"
)

// Snapshot format, version 1. Every integer is a uvarint unless noted.
//
//	magic "CAPSTAN\x00" | format version | revision | key count
//	key count times: key (length-prefixed) | value (length-prefixed) | create rev | mod rev | version
//	dedup count | dedup count times: request ID (16 bytes) | proposed (varint) | result
//	SHA-256 of everything before it (32 bytes)
//
// A snapshot holds the live keys only: history below its revision is not kept, so a state
// restored from it is compacted at its revision.
var snapshotMagic = []byte("CAPSTAN\x00")

const snapshotFormatV1 = 1

// maxSnapshotString bounds a length read from a snapshot, so corruption cannot make the reader
// allocate without limit.
const maxSnapshotString = 64 << 20

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// snapWriter writes snapshot fields to a buffered writer while hashing them.
type snapWriter struct {
	w   *bufio.Writer
	h   hash.Hash
	buf [binary.MaxVarintLen64]byte
	err error
}

func (s *snapWriter) write(p []byte) {
	if s.err == nil {
		_, s.err = s.w.Write(p)
	}
}
func (s *snapWriter) uvarint(v uint64) { s.write(s.buf[:binary.PutUvarint(s.buf[:], v)]) }
func (s *snapWriter) varint(v int64)   { s.write(s.buf[:binary.PutVarint(s.buf[:], v)]) }
func (s *snapWriter) bytes(p []byte)   { s.uvarint(uint64(len(p))); s.write(p) }
func (s *snapWriter) string(v string)  { s.uvarint(uint64(len(v))); s.write([]byte(v)) }

// writeSnapshot streams view and the dedup records to w and returns the bytes written.
func writeSnapshot(w io.Writer, view *mvcc.View, dedup []dedupRecord) (int64, error) {
	cw := &countingWriter{w: w}
	h := sha256.New()
	sw := &snapWriter{w: bufio.NewWriterSize(io.MultiWriter(cw, h), 256<<10), h: h}
	sw.write(snapshotMagic)
	sw.uvarint(snapshotFormatV1)
	sw.uvarint(view.Revision())
	sw.uvarint(uint64(view.Len()))
	written := 0
	_ = view.Range("", "", 0, func(kv mvcc.KeyValue) bool {
		sw.string(kv.Key)
		sw.bytes(kv.Value)
		sw.uvarint(kv.CreateRevision)
		sw.uvarint(kv.ModRevision)
		sw.uvarint(kv.Version)
		written++
		return sw.err == nil
	})
	if sw.err == nil && written != view.Len() {
		return cw.n, fmt.Errorf("raftstore: snapshot view counted %d keys but ranged over %d", view.Len(), written)
	}
	sw.uvarint(uint64(len(dedup)))
	for _, d := range dedup {
		sw.write(d.id[:])
		sw.varint(d.proposed)
		sw.bytes(encodeResult(d.result, false))
	}
	if sw.err != nil {
		return cw.n, fmt.Errorf("raftstore: write snapshot: %w", sw.err)
	}
	if err := sw.w.Flush(); err != nil {
		return cw.n, fmt.Errorf("raftstore: write snapshot: %w", err)
	}
	if _, err := cw.Write(h.Sum(nil)); err != nil {
		return cw.n, fmt.Errorf("raftstore: write snapshot checksum: %w", err)
	}
	return cw.n, nil
}

// snapReader reads snapshot fields while hashing them.
type snapReader struct {
	r   *bufio.Reader
	h   hash.Hash
	err error
}

func (s *snapReader) fail(err error) {
	if s.err == nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		s.err = fmt.Errorf("%w: %v", ErrBadSnapshot, err)
	}
}

func (s *snapReader) ReadByte() (byte, error) {
	b, err := s.r.ReadByte()
	if err == nil {
		s.h.Write([]byte{b})
	}
	return b, err
}

func (s *snapReader) full(p []byte) {
	if s.err != nil {
		return
	}
	if _, err := io.ReadFull(s.r, p); err != nil {
		s.fail(err)
		return
	}
	s.h.Write(p)
}

func (s *snapReader) uvarint() uint64 {
	if s.err != nil {
		return 0
	}
	v, err := binary.ReadUvarint(s)
	if err != nil {
		s.fail(err)
	}
	return v
}

func (s *snapReader) varint() int64 {
	if s.err != nil {
		return 0
	}
	v, err := binary.ReadVarint(s)
	if err != nil {
		s.fail(err)
	}
	return v
}

func (s *snapReader) bytes() []byte {
	n := s.uvarint()
	if s.err != nil {
		return nil
	}
	if n > maxSnapshotString {
		s.fail(fmt.Errorf("field of %d bytes exceeds the %d limit", n, maxSnapshotString))
		return nil
	}
	if n == 0 {
		return nil
	}
	p := make([]byte, n)
	s.full(p)
	return p
}

// readSnapshot rebuilds a tree and a dedup table from a snapshot stream, verifying its checksum.
func readSnapshot(r io.Reader) (*mvcc.Tree, *dedupTable, error) {
	sr := &snapReader{r: bufio.NewReaderSize(r, 256<<10), h: sha256.New()}
	magic := make([]byte, len(snapshotMagic))
	sr.full(magic)
	if sr.err == nil && !bytes.Equal(magic, snapshotMagic) {
		return nil, nil, fmt.Errorf("%w: not a Capstan snapshot", ErrBadSnapshot)
	}
	if v := sr.uvarint(); sr.err == nil && v != snapshotFormatV1 {
		return nil, nil, fmt.Errorf("%w: unknown snapshot format version %d", ErrBadSnapshot, v)
	}
	rev := sr.uvarint()
	count := sr.uvarint()
	tree := mvcc.NewTree()
	prevKey := ""
	for i := uint64(0); i < count && sr.err == nil; i++ {
		kv := mvcc.KeyValue{Key: string(sr.bytes()), Value: sr.bytes()}
		kv.CreateRevision, kv.ModRevision, kv.Version = sr.uvarint(), sr.uvarint(), sr.uvarint()
		if sr.err == nil && (kv.Key <= prevKey && i > 0 || kv.ModRevision > rev || kv.CreateRevision > kv.ModRevision) {
			sr.fail(fmt.Errorf("record %d (%q) is out of order or beyond revision %d", i, kv.Key, rev))
		}
		prevKey = kv.Key
		tree.Load(kv)
	}
	dedup := newDedupTable()
	n := sr.uvarint()
	for i := uint64(0); i < n && sr.err == nil; i++ {
		var rec dedupRecord
		sr.full(rec.id[:])
		rec.proposed = sr.varint()
		raw := sr.bytes()
		if sr.err != nil {
			break
		}
		r, err := decodeResult(raw)
		if err != nil {
			sr.fail(fmt.Errorf("dedup record %d: %v", i, err))
			break
		}
		rec.result = r
		dedup.restore(rec)
	}
	if sr.err != nil {
		return nil, nil, sr.err
	}
	want := sr.h.Sum(nil)
	got := make([]byte, sha256.Size)
	if _, err := io.ReadFull(sr.r, got); err != nil {
		return nil, nil, fmt.Errorf("%w: missing checksum: %v", ErrBadSnapshot, err)
	}
	if !bytes.Equal(got, want) {
		return nil, nil, fmt.Errorf("%w: checksum mismatch", ErrBadSnapshot)
	}
	if _, err := sr.r.ReadByte(); err != io.EOF {
		return nil, nil, fmt.Errorf("%w: trailing data after the checksum", ErrBadSnapshot)
	}
	tree.SetRevision(rev)
	tree.SetCompacted(rev)
	return tree, dedup, nil
}

// restore appends a record read from a snapshot, keeping the snapshot's order.
func (d *dedupTable) restore(rec dedupRecord) {
	d.byID[rec.id] = rec.result
	d.queue = append(d.queue, rec)
	if rec.proposed > d.newest {
		d.newest = rec.proposed
	}
}
