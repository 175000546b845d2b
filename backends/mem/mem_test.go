package mem_test

import (
	"testing"

	"s3proxy/backends"
	"s3proxy/backends/blobtest"
	"s3proxy/backends/mem"
)

func TestConformance(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) backends.BlobStore { return mem.New("mem") }, blobtest.Options{})
}
