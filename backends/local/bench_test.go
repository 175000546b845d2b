package local

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"syscall"
	"testing"
	"time"

	"s3proxy/backends"
)

// BenchmarkPut measures what one chunk write costs this process, in wall time and in
// CPU (user+system from getrusage, which counts the kernel's work on the write path),
// with O_DIRECT and through the page cache: which one is cheaper depends on the kernel
// and the virtual disk, so the choice is re-measured on each new machine.
func BenchmarkPut(b *testing.B) {
	for _, size := range []int{4 << 10, 1 << 20, 8 << 20} {
		for _, direct := range []bool{true, false} {
			b.Run(fmt.Sprintf("%dKiB/direct=%v", size>>10, direct), func(b *testing.B) {
				s, err := Open(context.Background(), Config{Name: "local", Path: b.TempDir()})
				if err != nil {
					b.Fatal(err)
				}
				if direct && !s.direct {
					b.Skip("the filesystem refuses O_DIRECT")
				}
				s.direct = direct
				body := make([]byte, size)
				rand.Read(body)
				b.SetBytes(int64(size))
				var before, after syscall.Rusage
				syscall.Getrusage(syscall.RUSAGE_SELF, &before)
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					// A fresh key each time, as content addressing gives.
					body[0], body[1], body[2] = byte(i), byte(i>>8), byte(i>>16)
					key := fmt.Sprintf("%064x", i+1)
					if err := s.Put(context.Background(), key, bytes.NewReader(body), int64(size), backends.PutOptions{}); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				syscall.Getrusage(syscall.RUSAGE_SELF, &after)
				cpu := time.Duration(after.Utime.Nano()+after.Stime.Nano()-before.Utime.Nano()-before.Stime.Nano()) / time.Duration(b.N)
				b.ReportMetric(float64(cpu.Microseconds()), "cpu-µs/op")
			})
		}
	}
}
