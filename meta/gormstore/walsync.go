package gormstore

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"s3proxy/meta"
)

// walSync makes SQLite commits durable, in groups, outside the write lock.
//
// The store runs SQLite in WAL mode with synchronous=NORMAL: a commit appends its pages to
// the -wal file and returns without an fsync, so a power loss or an OS crash may take the
// last commits with it (a process crash does not: the pages are in the page cache). Every
// acknowledged S3 write must survive those too. synchronous=FULL would fsync the WAL in
// every commit, while the one writer connection holds SQLite's write lock: writers then
// queue behind each other's fsyncs (mixed 4 KiB ops −33 %, BENCHMARKS.md). Instead the
// store commits with NORMAL and then, before a write returns, waits here until the -wal
// file has been fdatasynced after its commit. That is the sync FULL would do, with the same
// guarantee (a commit's frames are in the WAL, or a checkpoint moved them into the
// database file, which NORMAL syncs before the WAL is reused), but the write lock is free
// meanwhile and one fdatasync covers every commit that finished before it started: the
// first waiter syncs, those arriving during its sync wait for the next one, which then
// covers them all (group commit).
//
// A failed fdatasync is sticky: the kernel may have dropped the dirty pages it could not
// write, so a later fdatasync that succeeds proves nothing about them. Every later write
// then fails too, until the process restarts and SQLite recovers from what is on disk.
type walSync struct {
	path string // the -wal file

	mu      sync.Mutex
	cond    *sync.Cond
	f       *os.File // open on path; reopened if the file was replaced
	next    uint64   // sequence number of the latest commit to be made durable
	synced  uint64   // every commit numbered up to synced is durable
	running bool     // a waiter is syncing (without mu)
	err     error    // the sticky failure

	syncFile func() error // syncWAL; tests replace it
	// observe, if set, is told of each round: its fdatasync's duration and how many
	// commits it made durable.
	observe func(d time.Duration, commits int)
}

func newWALSync(dbFile string) *walSync {
	w := &walSync{path: dbFile + "-wal"}
	w.cond = sync.NewCond(&w.mu)
	w.syncFile = w.syncWAL
	return w
}

// wait returns once the commit that has just returned is durable (or the sync failed).
func (w *walSync) wait() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.next++
	me := w.next
	for w.synced < me && w.err == nil {
		if w.running {
			w.cond.Wait()
			continue
		}
		// Lead a round: it covers every commit numbered so far, since each of them
		// returned from SQLite before incrementing next.
		w.running = true
		target, from := w.next, w.synced
		w.mu.Unlock()
		start := time.Now()
		err := w.syncFile()
		if w.observe != nil && err == nil {
			w.observe(time.Since(start), int(target-from))
		}
		w.mu.Lock()
		w.running = false
		if err != nil {
			w.err = fmt.Errorf("%w: making a commit durable: %w", meta.ErrUnavailable, err)
		} else {
			w.synced = target
		}
		w.cond.Broadcast()
	}
	if w.synced >= me {
		return nil
	}
	return w.err
}

// failed returns the sticky failure, if a sync failed.
func (w *walSync) failed() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// syncWAL fdatasyncs the -wal file. Only one round runs at a time, so f needs no lock.
func (w *walSync) syncWAL() error {
	if err := w.reopen(); err != nil || w.f == nil {
		return err
	}
	// fdatasync: the frames and the file's size, which the WAL changes as it grows.
	return unix.Fdatasync(int(w.f.Fd()))
}

// reopen opens the -wal file, or opens it again when SQLite replaced it (it deletes the
// file when the last connection closes, which an admin command on the same database can
// be): an fsync of the old inode would not cover the new one.
func (w *walSync) reopen() error {
	cur, err := os.Stat(w.path)
	if errors.Is(err, os.ErrNotExist) {
		// No WAL: every commit was checkpointed into the database file and the WAL
		// removed, which SQLite syncs first.
		if w.f != nil {
			w.f.Close()
			w.f = nil
		}
		return nil
	}
	if err != nil {
		return err
	}
	if w.f != nil {
		if st, err := w.f.Stat(); err == nil && os.SameFile(st, cur) {
			return nil
		}
		w.f.Close()
		w.f = nil
	}
	f, err := os.Open(w.path)
	if err != nil {
		return err
	}
	w.f = f
	return nil
}

// close releases the -wal file, after a sync in progress (which uses it without mu).
func (w *walSync) close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for w.running {
		w.cond.Wait()
	}
	if w.f != nil {
		w.f.Close()
		w.f = nil
	}
}
