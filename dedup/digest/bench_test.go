package digest

import (
	"bytes"
	"fmt"
	"io"
	"sync"
	"syscall"
	"testing"
	"time"
)

// BenchmarkReaderStreams hashes concurrent 1 MiB bodies (SHA-256 and MD5, read in 64 KiB
// pieces as a signed aws-chunked body hands them out) with MD5 in the SIMD server's
// lanes or with crypto/md5, and reports the process's CPU (user+system, so task switches
// count) per GiB: which of the two is cheaper depends on the machine (see
// BENCHMARKS.md).
//
//	go test -run - -bench ReaderStreams ./dedup/digest
func BenchmarkReaderStreams(b *testing.B) {
	body := make([]byte, 1<<20)
	for i := range body {
		body[i] = byte(i * 31)
	}
	for _, streams := range []int{1, 4, 8} {
		for _, simd := range []bool{false, true} {
			name := fmt.Sprintf("streams=%d/md5=crypto", streams)
			if simd {
				name = fmt.Sprintf("streams=%d/md5=simd", streams)
			}
			b.Run(name, func(b *testing.B) {
				var srv *MD5Server
				if simd {
					srv = newMD5Server(true)
					defer srv.Close()
				}
				b.SetBytes(int64(len(body)))
				cpu0 := processCPU()
				t0 := time.Now()
				var wg sync.WaitGroup
				next := make(chan struct{})
				for range streams {
					wg.Go(func() {
						for range next {
							var opts []Option
							if simd && streams >= minSIMDStreams {
								if h := srv.get(); h != nil {
									opts = append(opts, func(d *Reader) { d.md5 = h; d.release = func() { srv.put(h) } })
								}
							}
							d, err := NewReader(&pieces{r: bytes.NewReader(body), n: 64 << 10}, Expect{Size: int64(len(body))}, opts...)
							if err != nil {
								b.Error(err)
								return
							}
							if _, err := io.Copy(io.Discard, d); err != nil {
								b.Error(err)
							}
							d.Close()
						}
					})
				}
				for range b.N {
					next <- struct{}{}
				}
				close(next)
				wg.Wait()
				gib := float64(b.N) * float64(len(body)) / (1 << 30)
				b.ReportMetric((processCPU()-cpu0).Seconds()/gib, "CPU-s/GiB")
				b.ReportMetric(gib*1024/time.Since(t0).Seconds(), "MiB/s")
			})
		}
	}
}

// pieces hands out at most n bytes per Read.
type pieces struct {
	r io.Reader
	n int
}

func (p *pieces) Read(b []byte) (int, error) { return p.r.Read(b[:min(len(b), p.n)]) }

func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkChecksums is one 1 MiB body through a Reader (SHA-256 and MD5, as every
// upload) with each additional checksum in turn, and with none: the difference is what
// a request asking for that algorithm pays. "default" is what a PUT without a checksum
// computes (S3's default CRC64NVME); MD5 and SHA256 cost nothing more (they are the ETag
// and the content hash).
//
//	go test -run - -bench Checksums ./dedup/digest
func BenchmarkChecksums(b *testing.B) {
	body := make([]byte, 1<<20)
	for i := range body {
		body[i] = byte(i * 31)
	}
	cases := []struct{ name, algo string }{{"none", ""}, {"default", CRC64NVME}}
	for _, a := range Algorithms() {
		cases = append(cases, struct{ name, algo string }{a, a})
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for range b.N {
				d, err := NewReader(&pieces{r: bytes.NewReader(body), n: 64 << 10}, Expect{Size: int64(len(body)), Algorithm: tc.algo})
				if err != nil {
					b.Fatal(err)
				}
				if _, err := io.Copy(io.Discard, d); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
