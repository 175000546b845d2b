// Package local is the BlobStore on a local filesystem.
//
// # Layout
//
//	<root>/tmp/put-*            bodies being written (never listed; stale ones removed on Open)
//	<root>/<k0>/<k1k2>/<key>    committed chunks (<k0k1>/<k2k3>/<key> in stores created before)
//
// The two directory levels are the key's first three characters (padded with '_' for
// shorter keys), so a store of millions of chunks keeps directories small (see layoutV2). A path is only
// ever derived from a validated key (see backends: [A-Za-z0-9._-], starting with a letter
// or digit, no "..", at most backends.MaxKeyLen bytes), so it cannot leave the root.
//
// # File format
//
// A chunk file is the chunk's bytes followed by a fixed 40-byte footer:
//
//	offset  size  field
//	0       4     magic "S3PX"
//	4       1     format version (1)
//	5       1     flags: bit 0 set when the SHA-256 field holds the content's hash
//	6       2     reserved, zero
//	8       32    SHA-256 of the chunk's bytes (zero unless flag bit 0)
//
// Every file has the footer, so the chunk size is always the file size minus 40 and the
// format is unambiguous; Stat and Get exclude it, and a scrub (or an index rebuild) can
// verify a chunk from the file alone by hashing file[:size-40] against the footer.
//
// # Durability
//
// Put writes to an unnamed file (O_TMPFILE) in the chunk's own directory, checks the size,
// appends the footer, links it into place (linkat through /proc/self/fd), fdatasyncs it
// and fsyncs the directory (and the parents of any directory it created). Linking first
// lets one journal commit cover the file and its name; it is safe because nothing refers
// to a chunk's fresh name until Put returns, and a crash in between leaves at worst a file
// without a valid footer, which List reports without a hash for the orphan sweep. This costs
// one directory entry per chunk where a named temporary file and a rename cost two
// directory updates and a random name (os.CreateTemp alone was 9 % of the server's CPU
// on small PUTs). The file is written with O_DIRECT where the filesystem allows it (probed
// on Open): the body goes from the aligned copy buffer to the device with no page-cache
// copy. Measured on the benchmark machine (ext4 on a VM disk), 1 MiB files written and
// fdatasynced cost 2.4–2.6 CPU-s/GiB buffered against 0.4 with O_DIRECT, and 5 ms
// against 2.1–2.4 ms of wall time each (MinIO writes its objects the same way). O_DIRECT
// writes whole blocks, so the final partial block (the body's last bytes and the footer)
// goes through the page cache, which the fdatasync flushes (writeTail). The file is
// opened while the body's first buffer fills (openAsync).
// Where O_TMPFILE or /proc is unavailable, Put falls back to a named
// temporary file in <root>/tmp (same filesystem, so the rename is atomic) renamed into
// place; a crash then leaves at most that file, which the next Open removes once it is
// older than Config.TempMaxAge (age-based, because an admin command may open the same
// root while a server writes).
//
// # Reads
//
// Get returns a reader over the open file limited to the range. It implements
// io.WriterTo: copying it with io.Copy into an io.ReaderFrom (a *net.TCPConn, or an
// http.ResponseWriter, which hands off to its connection after the sniffing prefix)
// passes an *io.LimitedReader over the *os.File, which net.TCPConn.ReadFrom serves with
// sendfile(2); the copy proceeds in slices so that a cancelled context is noticed.
package local

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"s3proxy/backends"
)

const (
	footerSize    = 40
	footerVersion = 1
	flagSHA       = 1
	tmpDir        = "tmp"
	tmpPattern    = "put-*"
	copyBufSize   = 256 << 10
	// directAlign is the alignment of O_DIRECT buffers, offsets and lengths: the largest
	// logical block size in use.
	directAlign = 4096
	// sendSlice bounds one ReaderFrom hand-off, so cancellation is seen between slices.
	sendSlice = 8 << 20
)

var footerMagic = [4]byte{'S', '3', 'P', 'X'}

// Config configures a local store.
type Config struct {
	// Name is the configured backend name.
	Name string
	// Path is the root directory; it is created if missing.
	Path string
	// TempMaxAge is the age past which a temporary file is taken for a crash leftover
	// and removed on Open. Default 1 hour.
	TempMaxAge time.Duration
	// PrecreateShards lays out every shard directory when Open meets a new store (see
	// precreate). Off by default: it costs 0.2–1 s of CPU, which a server pays once but a
	// test making hundreds of stores should not.
	PrecreateShards bool
}

// Store is a BlobStore on a local filesystem.
type Store struct {
	name string
	root string
	// bufs holds *[]byte of copyBufSize+directAlign bytes, aligned to directAlign, reused
	// by Put and unaccelerated reads.
	bufs sync.Pool
	// direct: chunk files are written with O_DIRECT (probed on Open).
	direct bool
	// layout of the shard directories (detected on Open).
	layout layout
	// noTmpfile is set once O_TMPFILE (or /proc) turned out unavailable.
	noTmpfile atomic.Bool
}

var _ backends.BlobStore = (*Store)(nil)

// Open prepares the root directory and removes stale temporary files.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.Path == "" {
		return nil, fmt.Errorf("local %q: no path configured: %w", cfg.Name, backends.ErrInvalid)
	}
	if cfg.TempMaxAge <= 0 {
		cfg.TempMaxAge = time.Hour
	}
	root, err := filepath.Abs(cfg.Path)
	if err != nil {
		return nil, fmt.Errorf("local %q: %w: %w", cfg.Name, backends.ErrInvalid, err)
	}
	s := &Store{name: cfg.Name, root: root}
	s.bufs.New = func() any { b := alignedBuf(copyBufSize + directAlign); return &b }
	if err := os.MkdirAll(filepath.Join(root, tmpDir), 0o750); err != nil {
		return nil, s.classify("open", "", err)
	}
	s.direct = probeDirect(filepath.Join(root, tmpDir))
	if s.layout, err = detectLayout(root); err != nil {
		return nil, s.classify("open", "", err)
	}
	if err := s.precreate(cfg.PrecreateShards); err != nil {
		return nil, s.classify("open: creating shard directories", "", err)
	}
	if _, err := os.Stat("/proc/self/fd"); err != nil {
		s.noTmpfile.Store(true) // an unnamed file could not be linked into place
	}
	if err := s.removeStaleTemps(ctx, cfg.TempMaxAge); err != nil {
		return nil, err
	}
	return s, nil
}

// precreate lays out a new store's 4,096 shard directories for hexadecimal keys (the
// chunk uids dedup makes) before the first Put. Otherwise a new store's first few
// thousand chunks each create a directory and fsync its parent twice: measured here,
// that was 1.3 ms of a 1 MiB PUT's 8 ms on a fresh store, a cost steady-state stores
// never pay. Creating them all costs 0.2–1 s of CPU (ext4 here) and one journal commit,
// once. It runs before Open returns: a Put that finds its directory must be able to rely
// on that directory's entry being durable. Stores that already hold shard directories (or use
// layoutV1) are left alone; Put still creates any directory it misses.
func (s *Store) precreate(enabled bool) error {
	if !enabled || s.layout != layoutV2 {
		return nil
	}
	const hex = "0123456789abcdef"
	for i := 0; i < len(hex); i++ {
		if _, err := os.Stat(filepath.Join(s.root, hex[i:i+1])); err == nil {
			return nil // not a new store
		} else if !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	for i := 0; i < len(hex); i++ {
		d1 := filepath.Join(s.root, hex[i:i+1])
		if err := os.Mkdir(d1, 0o750); err != nil && !errors.Is(err, os.ErrExist) {
			return err
		}
		for j := 0; j < len(hex); j++ {
			for k := 0; k < len(hex); k++ {
				name := string([]byte{hex[j], hex[k]})
				if err := os.Mkdir(filepath.Join(d1, name), 0o750); err != nil && !errors.Is(err, os.ErrExist) {
					return err
				}
			}
		}
	}
	// One journal commit makes them all durable; the other fsyncs find nothing left.
	for i := 0; i < len(hex); i++ {
		if err := syncDir(filepath.Join(s.root, hex[i:i+1])); err != nil {
			return err
		}
	}
	return syncDir(s.root)
}

func (s *Store) removeStaleTemps(ctx context.Context, maxAge time.Duration) error {
	dir := filepath.Join(s.root, tmpDir)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return s.classify("open", "", err)
	}
	cutoff := time.Now().Add(-maxAge)
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return s.classify("open", "", err)
		}
		fi, err := e.Info()
		if err != nil || !fi.Mode().IsRegular() || fi.ModTime().After(cutoff) {
			continue // vanished, not ours, or possibly still being written
		}
		if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, os.ErrNotExist) {
			return s.classify("open: removing stale temp file", "", err)
		}
	}
	return nil
}

// Name implements backends.BlobStore.
func (s *Store) Name() string { return s.name }

// Root returns the absolute root directory.
func (s *Store) Root() string { return s.root }

// validKey reports whether key may become a file name: see the package doc.
func validKey(key string) bool {
	if key == "" || len(key) > backends.MaxKeyLen || strings.Contains(key, "..") {
		return false
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case (c == '.' || c == '_' || c == '-') && i > 0:
		default:
			return false
		}
	}
	return true
}

// layout is how many of a key's leading characters name each of the two shard levels.
type layout struct{ w1, w2 int }

var (
	// layoutV2 is <k0>/<k1k2>: 16 × 256 = 4,096 leaf directories for hexadecimal keys. A
	// fresh store creates (and fsyncs the parents of) a leaf directory for most of its first
	// few thousand chunks, not its first 65,536 as with layoutV1; 100 million chunks are
	// still only about 24,000 per directory.
	layoutV2 = layout{1, 2}
	// layoutV1, <k0k1>/<k2k3>, is what stores created before layoutV2 use: Open keeps a
	// store in the layout it finds.
	layoutV1 = layout{2, 2}
)

// shard returns the two directory names for key (padded with '_' when it is short).
func (l layout) shard(key string) (string, string) {
	var b [4]byte
	for i := range l.w1 + l.w2 {
		if i < len(key) {
			b[i] = key[i]
		} else {
			b[i] = '_'
		}
	}
	return string(b[:l.w1]), string(b[l.w1 : l.w1+l.w2])
}

// detectLayout reports the layout of an existing store: layoutV1 when the root holds a
// two-character shard directory, else layoutV2 (also for a new, empty root).
func detectLayout(root string) (layout, error) {
	entries, err := os.ReadDir(root)
	if err != nil {
		return layout{}, err
	}
	for _, e := range entries {
		if e.IsDir() && len(e.Name()) == layoutV1.w1 && e.Name() != tmpDir {
			return layoutV1, nil
		}
	}
	return layoutV2, nil
}

// path maps a key to its file, or ErrInvalid.
func (s *Store) path(key string) (string, error) {
	if !validKey(key) {
		return "", fmt.Errorf("local %s: key %q: %w", s.name, key, backends.ErrInvalid)
	}
	d1, d2 := s.layout.shard(key)
	return filepath.Join(s.root, d1, d2, key), nil
}

// classify wraps err in the backends error kind it belongs to.
func (s *Store) classify(op, key string, err error) error {
	var kind error
	switch {
	case err == nil:
		return nil
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		kind = backends.ErrCanceled
	case errors.Is(err, os.ErrNotExist):
		kind = backends.ErrNotFound
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT), errors.Is(err, syscall.EMFILE), errors.Is(err, syscall.ENFILE):
		kind = backends.ErrExhausted
	case errors.Is(err, os.ErrPermission), errors.Is(err, syscall.EROFS), errors.Is(err, syscall.EIO):
		kind = backends.ErrUnavailable
	default:
		kind = backends.ErrInternal
	}
	if key != "" {
		op += " " + key
	}
	return fmt.Errorf("local %s: %s: %w: %w", s.name, op, kind, err)
}

func (s *Store) getBuf() *[]byte { return s.bufs.Get().(*[]byte) }

// alignedBuf returns n bytes starting at a multiple of directAlign. The Go heap does not
// move objects, so the alignment holds for the slice's life.
func alignedBuf(n int) []byte {
	b := make([]byte, n+directAlign)
	off := (directAlign - int(uintptr(unsafe.Pointer(&b[0]))%directAlign)) % directAlign
	return b[off : off+n : off+n]
}

// probeDirect reports whether files in dir can be written with O_DIRECT (tmpfs and some
// network filesystems refuse it at open or at the first write).
func probeDirect(dir string) bool {
	f, err := os.CreateTemp(dir, "probe-*")
	if err != nil {
		return false
	}
	defer os.Remove(f.Name())
	defer f.Close()
	if _, err := unix.FcntlInt(f.Fd(), unix.F_SETFL, unix.O_DIRECT|unix.O_WRONLY); err != nil {
		return false
	}
	_, err = f.Write(alignedBuf(directAlign))
	return err == nil
}
func (s *Store) putBuf(b *[]byte) { s.bufs.Put(b) }

// Put implements backends.BlobStore.
func (s *Store) Put(ctx context.Context, key string, r io.Reader, size int64, opts backends.PutOptions) (err error) {
	final, err := s.path(key)
	if err != nil {
		return err
	}
	if size < -1 {
		return fmt.Errorf("local %s: put %s: size %d: %w", s.name, key, size, backends.ErrInvalid)
	}
	if err := ctx.Err(); err != nil {
		return s.classify("put", key, err)
	}
	dir := filepath.Dir(final)
	// The file is opened while the body's first buffer fills: opening an unnamed file
	// allocates an inode, 0.04–1 ms on this VM's ext4, which then no longer delays the
	// request. Every path below waits for it (opening.wait) and cleans it up on error.
	opening := s.openAsync(dir)
	defer func() {
		if err != nil {
			if f, named, ferr := opening.wait(); ferr == nil {
				f.Close()
				if named {
					os.Remove(f.Name())
				}
			}
		}
	}()
	n, bp, pending, err := s.copyBody(ctx, opening, r, size)
	if bp != nil {
		defer s.putBuf(bp)
	}
	f, named, oerr := opening.wait()
	if oerr != nil {
		return s.classify("put: creating temp file", key, oerr)
	}
	if err != nil {
		return fmt.Errorf("local %s: put %s: %w", s.name, key, err)
	}
	buf := *bp
	if size >= 0 && n != size {
		return fmt.Errorf("local %s: put %s: body has %d of %d bytes: %w: %w", s.name, key, n, size, backends.ErrInvalid, io.ErrUnexpectedEOF)
	}
	// The footer follows the body's last pending bytes in the buffer (which has room for
	// it past copyBufSize).
	foot := buf[pending : pending+footerSize]
	clear(foot)
	copy(foot[:4], footerMagic[:])
	foot[4] = footerVersion
	if opts.SHA256 != nil {
		foot[5] = flagSHA
		sum := opts.SHA256()
		copy(foot[8:], sum[:])
	}
	if err := s.writeTail(f, buf[:pending+footerSize], n-int64(pending)); err != nil {
		return s.classify("put: writing footer", key, err)
	}
	// Last chance to honour a cancellation: after the link or rename the chunk is visible.
	if err := ctx.Err(); err != nil {
		return s.classify("put", key, err)
	}
	if named {
		// fdatasync: the file's data and size, not its timestamps.
		if err := unix.Fdatasync(int(f.Fd())); err != nil {
			return s.classify("put: fsync", key, err)
		}
		if err := f.Close(); err != nil {
			return s.classify("put: close", key, err)
		}
		if err := s.mkdirs(dir); err != nil {
			return s.classify("put: creating shard directory", key, err)
		}
		if err := os.Rename(f.Name(), final); err != nil {
			return s.classify("put: rename", key, err)
		}
	} else {
		// Link first, then sync: the file's fdatasync then commits the journal
		// transaction that holds its new name too, and the directory's fsync finds little
		// left to do (one journal commit per Put instead of two: 0.15–0.3 ms of a 1.5 ms
		// wait, measured on ext4 here). Naming the file before its data is durable is safe
		// because nothing refers to the name until Put returns: a crash in between leaves
		// a file no index entry names, which the orphan sweep removes. Replacing an
		// existing name is different (the old file may be all a reader has): linkInto
		// syncs before it renames over one.
		err := linkInto(f, final)
		if err == nil {
			if err = unix.Fdatasync(int(f.Fd())); err != nil {
				os.Remove(final)
			}
		}
		if cerr := f.Close(); err == nil && cerr != nil {
			os.Remove(final)
			err = cerr
		}
		if err != nil {
			return s.classify("put: link and fsync", key, err)
		}
	}
	// The chunk is visible now; a failed directory fsync only weakens durability, but
	// the caller must not commit metadata for a chunk that may vanish on a crash.
	if err := syncDir(dir); err != nil {
		os.Remove(final)
		return s.classify("put: fsync directory", key, err)
	}
	return nil
}

// linkInto gives the unnamed file f the name final. linkat does not replace an existing
// name, and a Put of an existing key must (last writer wins): then the file is linked
// under a fresh name beside final and renamed over it, atomically. A crash between the
// two leaves that name behind, a valid key no chunk refers to, which the orphan sweep
// removes.
func linkInto(f *os.File, final string) error {
	src := "/proc/self/fd/" + strconv.Itoa(int(f.Fd()))
	err := unix.Linkat(unix.AT_FDCWD, src, unix.AT_FDCWD, final, unix.AT_SYMLINK_FOLLOW)
	if !errors.Is(err, syscall.EEXIST) {
		return err
	}
	// The file replaces one a reader may rely on: make its bytes durable first.
	if err := unix.Fdatasync(int(f.Fd())); err != nil {
		return err
	}
	// The descriptor number is unique among files open at once: no two Puts collide.
	side := final + ".replace-" + strconv.Itoa(int(f.Fd())) + "-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	if err := unix.Linkat(unix.AT_FDCWD, src, unix.AT_FDCWD, side, unix.AT_SYMLINK_FOLLOW); err != nil {
		return err
	}
	if err := os.Rename(side, final); err != nil {
		os.Remove(side)
		return err
	}
	return nil
}

// pendingFile is a Put's file being opened by openAsync.
type pendingFile struct {
	done  chan struct{}
	f     *os.File
	named bool
	err   error
}

// openAsync opens the file a Put writes in dir (see createTemp) on a goroutine of its
// own, creating the shard directories first if they are missing. The shard directories
// almost always exist: they are created only when the unnamed file cannot be opened in
// them (two mkdir calls per Put were 4 % of a small PUT's CPU).
func (s *Store) openAsync(dir string) *pendingFile {
	p := &pendingFile{done: make(chan struct{})}
	go func() {
		defer close(p.done)
		p.f, p.named, p.err = s.createTemp(dir)
		if errors.Is(p.err, os.ErrNotExist) {
			if p.err = s.mkdirs(dir); p.err == nil {
				p.f, p.named, p.err = s.createTemp(dir)
			}
		}
	}()
	return p
}

// wait returns the opened file; it may be called any number of times.
func (p *pendingFile) wait() (*os.File, bool, error) {
	<-p.done
	return p.f, p.named, p.err
}

// writeTail writes what is left of a chunk file at offset at: the body's last bytes and
// the footer. With O_DIRECT, which writes whole blocks only, the whole blocks
// go to the device directly and the final partial block through the page cache (O_DIRECT
// cleared on the descriptor), which Put's fdatasync flushes. Padding that block for
// O_DIRECT and truncating the file to length instead made ext4 read the block back from
// the device to zero its tail, then write it again: 0.1–0.2 ms per Put.
func (s *Store) writeTail(f *os.File, tail []byte, at int64) error {
	if !s.direct {
		_, err := f.WriteAt(tail, at)
		return err
	}
	whole := len(tail) / directAlign * directAlign
	if whole > 0 {
		if _, err := f.WriteAt(tail[:whole], at); err != nil {
			return err
		}
	}
	if whole == len(tail) {
		return nil
	}
	// F_SETFL ignores the access mode; what changes is that O_DIRECT is no longer set.
	if _, err := unix.FcntlInt(f.Fd(), unix.F_SETFL, unix.O_WRONLY); err != nil {
		return err
	}
	_, err := f.WriteAt(tail[whole:], at+int64(whole))
	return err
}

// createTemp opens the file a Put writes: unnamed in dir when the filesystem can
// (O_TMPFILE, and /proc to link it later), else named in <root>/tmp.
func (s *Store) createTemp(dir string) (f *os.File, named bool, err error) {
	if !s.noTmpfile.Load() {
		f, err := os.OpenFile(dir, os.O_WRONLY|unix.O_TMPFILE|s.directFlag(), 0o640)
		if err == nil {
			return f, false, nil
		}
		// EISDIR, EOPNOTSUPP or EINVAL: this kernel or filesystem has no O_TMPFILE.
		if !errors.Is(err, syscall.EISDIR) && !errors.Is(err, syscall.EOPNOTSUPP) && !errors.Is(err, syscall.EINVAL) {
			return nil, false, err
		}
		s.noTmpfile.Store(true)
	}
	f, err = os.CreateTemp(filepath.Join(s.root, tmpDir), tmpPattern)
	if err == nil && s.direct {
		if _, err = unix.FcntlInt(f.Fd(), unix.F_SETFL, unix.O_DIRECT|unix.O_WRONLY); err != nil {
			f.Close()
			os.Remove(f.Name())
			return nil, true, err
		}
	}
	return f, true, err
}

func (s *Store) directFlag() int {
	if s.direct {
		return unix.O_DIRECT
	}
	return 0
}

// copyBody copies r to the file being opened, checking ctx between reads and the size
// limit as it goes (so an endless body is cut off within one buffer past size). It writes
// whole buffers only and returns the body's last, partial buffer unwritten in
// (*last)[:pending], for Put to append the footer and write (writeTail); the caller gives
// last back with putBuf.
func (s *Store) copyBody(ctx context.Context, opening *pendingFile, r io.Reader, size int64) (n int64, last *[]byte, pending int, err error) {
	last = s.getBuf()
	var (
		f  *os.File
		aw *asyncWriter
	)
	defer func() {
		if aw != nil {
			if werr := aw.close(); werr != nil && err == nil {
				err = s.classify("writing", "", werr)
			}
		}
	}()
	for {
		if err := ctx.Err(); err != nil {
			return n, last, 0, fmt.Errorf("%w: %w", backends.ErrCanceled, err)
		}
		buf := (*last)[:copyBufSize]
		m, rerr := fill(r, buf)
		if size >= 0 && n+int64(m) > size {
			return n, last, 0, fmt.Errorf("body longer than %d bytes: %w", size, backends.ErrInvalid)
		}
		if m == len(buf) {
			if f == nil {
				// The first full buffer: the file must be open now.
				var oerr error
				if f, _, oerr = opening.wait(); oerr != nil {
					return n, last, 0, oerr // Put reports it
				}
				if s.direct {
					aw = s.newAsyncWriter(f)
				}
			}
			var werr error
			if aw != nil {
				last, werr = aw.write(last, n)
			} else {
				_, werr = f.WriteAt(buf, n)
			}
			if werr != nil {
				return n, last, 0, s.classify("writing", "", werr)
			}
			n += int64(m)
			m = 0
		}
		if rerr == io.EOF {
			return n + int64(m), last, m, nil
		}
		if rerr != nil {
			// A body that failed because the context ended (a stalled client reaching the
			// deadline) is a cancellation, whatever error the body chose to report.
			if err := ctx.Err(); err != nil {
				return n, last, 0, fmt.Errorf("reading body: %w: %w (%w)", backends.ErrCanceled, err, rerr)
			}
			return n, last, 0, fmt.Errorf("reading body: %w", rerr)
		}
	}
}

// asyncWriter writes full buffers in a goroutine of its own, one buffer behind the reads.
// With O_DIRECT a write returns only once the device has the data, so a single loop would
// leave the network idle during every write and the disk idle during every read. A Put
// uses two buffers: the one being filled and the one being written. Writes carry their
// file offset (pwrite), as does the tail Put writes itself.
type asyncWriter struct {
	s    *Store
	f    *os.File
	full chan writeReq // to the writer; unbuffered, so at most one write is in flight
	free chan freedBuf // from the writer: written buffers, and the spare
	done chan struct{}
	err  error // the first write error: the writer's own until done is closed
}

// writeReq is one write: the full buffer bp at off.
type writeReq struct {
	bp  *[]byte
	off int64
}

// freedBuf is a buffer the writer is done with, and the first error it met so far.
type freedBuf struct {
	bp  *[]byte
	err error
}

func (s *Store) newAsyncWriter(f *os.File) *asyncWriter {
	w := &asyncWriter{s: s, f: f, full: make(chan writeReq), free: make(chan freedBuf, 2), done: make(chan struct{})}
	w.free <- freedBuf{bp: s.getBuf()}
	go w.run()
	return w
}

func (w *asyncWriter) run() {
	defer close(w.done)
	for q := range w.full {
		if w.err == nil {
			_, w.err = w.f.WriteAt((*q.bp)[:copyBufSize], q.off)
		}
		w.free <- freedBuf{bp: q.bp, err: w.err}
	}
}

// write hands bp (full) to the writer, to be written at off, and returns a buffer to
// fill next: the spare, or the previous one once its write is done. The error is that
// of an earlier write.
func (w *asyncWriter) write(bp *[]byte, off int64) (*[]byte, error) {
	w.full <- writeReq{bp: bp, off: off}
	next := <-w.free
	return next.bp, next.err
}

// close waits for the last write and gives back the buffers the reader does not hold.
func (w *asyncWriter) close() error {
	close(w.full)
	<-w.done
	for len(w.free) > 0 {
		w.s.putBuf((<-w.free).bp)
	}
	return w.err
}

// fill reads into buf until it is full or r fails (io.EOF included). A signed
// aws-chunked body hands out at most one 64 KiB chunk per Read; writing each of those
// separately would cost four times the write calls of filling the 256 KiB buffer.
func fill(r io.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// mkdirs creates the two shard levels under root, fsyncing the parent of each directory
// it creates so that the new entry survives a crash.
func (s *Store) mkdirs(dir string) error {
	parent := filepath.Dir(dir)
	for _, d := range []string{parent, dir} {
		// mkdirs runs only when the chunk's directory was missing: a directory that
		// exists now was made by a racing Put that may not have fsynced its parent yet,
		// so the parent is fsynced either way.
		if err := os.Mkdir(d, 0o750); err != nil && !errors.Is(err, os.ErrExist) {
			return err
		}
		if err := syncDir(filepath.Dir(d)); err != nil {
			return err
		}
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// openChunk opens key's file and reads its footer.
func (s *Store) openChunk(op, key string) (*os.File, backends.Info, error) {
	p, err := s.path(key)
	if err != nil {
		return nil, backends.Info{}, err
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, backends.Info{}, s.classify(op, key, err)
	}
	info, err := s.readInfo(f, key)
	if err != nil {
		f.Close()
		return nil, backends.Info{}, err
	}
	return f, info, nil
}

func (s *Store) readInfo(f *os.File, key string) (backends.Info, error) {
	fi, err := f.Stat()
	if err != nil {
		return backends.Info{}, s.classify("stat", key, err)
	}
	size := fi.Size() - footerSize
	var foot [footerSize]byte
	if size >= 0 {
		if _, err := f.ReadAt(foot[:], size); err != nil {
			return backends.Info{}, s.classify("reading footer", key, err)
		}
	}
	if size < 0 || !bytes.Equal(foot[:4], footerMagic[:]) || foot[4] != footerVersion {
		return backends.Info{}, fmt.Errorf("local %s: %s: bad chunk footer (corrupt or foreign file): %w", s.name, key, backends.ErrInternal)
	}
	info := backends.Info{Key: key, Size: size, ModTime: fi.ModTime()}
	if foot[5]&flagSHA != 0 {
		info.HasSHA = true
		copy(info.SHA256[:], foot[8:])
	}
	return info, nil
}

// Get implements backends.BlobStore.
func (s *Store) Get(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, s.classify("get", key, err)
	}
	f, info, err := s.openChunk("get", key)
	if err != nil {
		return nil, err
	}
	size := info.Size
	if length == -1 && offset >= 0 && offset <= size {
		length = size - offset
	}
	if offset < 0 || length < 0 || offset > size || length > size-offset {
		f.Close()
		return nil, fmt.Errorf("local %s: get %s: range %d+%d of %d bytes: %w", s.name, key, offset, length, size, backends.ErrInvalid)
	}
	// A descriptor just opened reads from 0 (openChunk's footer read is a pread, which
	// leaves the offset alone): a whole-chunk read skips the lseek, one system call of
	// the dozen a GET costs.
	if offset > 0 {
		if _, err := f.Seek(offset, io.SeekStart); err != nil {
			f.Close()
			return nil, s.classify("get: seek", key, err)
		}
	}
	return &reader{s: s, ctx: ctx, f: f, left: length}, nil
}

// reader reads a range of a chunk file. See the package doc for why it implements
// io.WriterTo.
type reader struct {
	s    *Store
	ctx  context.Context
	f    *os.File
	left int64
}

func (r *reader) Read(p []byte) (int, error) {
	if r.left <= 0 {
		return 0, io.EOF
	}
	if err := r.ctx.Err(); err != nil {
		return 0, fmt.Errorf("local %s: read: %w: %w", r.s.name, backends.ErrCanceled, err)
	}
	if int64(len(p)) > r.left {
		p = p[:r.left]
	}
	n, err := r.f.Read(p)
	r.left -= int64(n)
	if err == io.EOF && r.left > 0 {
		// The file is shorter than when Get checked it: never pass that off as the end.
		return n, fmt.Errorf("local %s: read: chunk truncated: %w: %w", r.s.name, backends.ErrInternal, io.ErrUnexpectedEOF)
	}
	if err != nil && err != io.EOF {
		return n, r.s.classify("read", "", err)
	}
	return n, nil
}

// WriteTo hands the file to w's ReadFrom (sendfile for sockets) in slices, or copies
// through a pooled buffer when w has no ReadFrom.
func (r *reader) WriteTo(w io.Writer) (int64, error) {
	rf, ok := w.(io.ReaderFrom)
	if !ok {
		bp := r.s.getBuf()
		defer r.s.putBuf(bp)
		return io.CopyBuffer(w, struct{ io.Reader }{r}, *bp)
	}
	var total int64
	for r.left > 0 {
		if err := r.ctx.Err(); err != nil {
			return total, fmt.Errorf("local %s: read: %w: %w", r.s.name, backends.ErrCanceled, err)
		}
		want := min(r.left, sendSlice)
		n, err := rf.ReadFrom(&io.LimitedReader{R: r.f, N: want})
		total += n
		r.left -= n
		if err != nil {
			return total, err
		}
		if n < want {
			return total, fmt.Errorf("local %s: read: chunk truncated: %w: %w", r.s.name, backends.ErrInternal, io.ErrUnexpectedEOF)
		}
	}
	return total, nil
}

func (r *reader) Close() error { return r.f.Close() }

// Stat implements backends.BlobStore.
func (s *Store) Stat(ctx context.Context, key string) (backends.Info, error) {
	if err := ctx.Err(); err != nil {
		return backends.Info{}, s.classify("stat", key, err)
	}
	f, info, err := s.openChunk("stat", key)
	if err != nil {
		return backends.Info{}, err
	}
	f.Close()
	return info, nil
}

// Delete implements backends.BlobStore. Shard directories are never removed: a
// concurrent Put may be about to rename into one.
func (s *Store) Delete(ctx context.Context, key string) error {
	p, err := s.path(key)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return s.classify("delete", key, err)
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
		return s.classify("delete", key, err)
	}
	return nil
}

// List implements backends.BlobStore. It reads each chunk's footer (one open and one
// 40-byte read per chunk) so that Info carries the recorded SHA-256 for index rebuilds.
func (s *Store) List(ctx context.Context, prefix string, fn func(backends.Info) error) error {
	if prefix != "" && !validKey(prefix) {
		// No valid key has it, and it must never become part of a path ("..", "/").
		return nil
	}
	level1, err := s.subdirs(s.root, prefix, 0, s.layout.w1)
	if err != nil {
		return err
	}
	for _, d1 := range level1 {
		level2, err := s.subdirs(filepath.Join(s.root, d1), prefix, s.layout.w1, s.layout.w2)
		if err != nil {
			return err
		}
		for _, d2 := range level2 {
			if err := s.listDir(ctx, d1, d2, prefix, fn); err != nil {
				return err
			}
		}
	}
	return nil
}

// subdirs lists the shard directories of one level that can hold keys with prefix;
// at is the level's position in the key and width the length of its names.
func (s *Store) subdirs(dir, prefix string, at, width int) ([]string, error) {
	if len(prefix) >= at+width {
		// Every matching key starts with prefix, so the shard is known.
		name := prefix[at : at+width]
		if fi, err := os.Stat(filepath.Join(dir, name)); err != nil || !fi.IsDir() {
			return nil, nil
		}
		return []string{name}, nil
	}
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, s.classify("list", "", err)
	}
	var out []string
	for _, e := range entries {
		// tmp and anything not of a shard's shape is not ours to list.
		if e.IsDir() && len(e.Name()) == width && strings.HasPrefix(e.Name(), prefix[min(at, len(prefix)):]) {
			out = append(out, e.Name())
		}
	}
	return out, nil
}

func (s *Store) listDir(ctx context.Context, d1, d2, prefix string, fn func(backends.Info) error) error {
	entries, err := os.ReadDir(filepath.Join(s.root, d1, d2))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return s.classify("list", "", err)
	}
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return s.classify("list", "", err)
		}
		key := e.Name()
		if !strings.HasPrefix(key, prefix) || !validKey(key) || !e.Type().IsRegular() {
			continue
		}
		if k1, k2 := s.layout.shard(key); k1 != d1 || k2 != d2 {
			continue // misplaced: unreachable by Get, so not a chunk of ours
		}
		f, info, err := s.openChunk("list", key)
		if errors.Is(err, backends.ErrNotFound) {
			continue // deleted while listing
		}
		if errors.Is(err, backends.ErrInternal) {
			// No valid footer: a Put cut short by a crash between naming its file and
			// syncing it (Put links before it syncs), or damage. It is listed, without a
			// hash, so that the orphan sweep can remove it and verify can report it; one
			// bad file must not stop a listing.
			fi, serr := e.Info()
			if serr != nil {
				continue // deleted while listing
			}
			info, err = backends.Info{Key: key, Size: fi.Size(), ModTime: fi.ModTime()}, nil
			f = nil
		}
		if err != nil {
			return err
		}
		if f != nil {
			f.Close()
		}
		if err := fn(info); err != nil {
			return err
		}
	}
	return nil
}

// Health implements backends.BlobStore: the root must accept a new file.
func (s *Store) Health(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return s.classify("health", "", err)
	}
	f, err := os.CreateTemp(filepath.Join(s.root, tmpDir), "health-*")
	if err != nil {
		return s.classify("health: root not writable", "", err)
	}
	name := f.Name()
	_, werr := f.Write([]byte("ok"))
	cerr := f.Close()
	rerr := os.Remove(name)
	if err := errors.Join(werr, cerr, rerr); err != nil {
		return s.classify("health", "", err)
	}
	return nil
}

// Close implements backends.BlobStore; the store holds no open resources.
func (s *Store) Close() error { return nil }
