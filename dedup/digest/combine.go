package digest

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
)

// Reflected polynomials of the CRCs S3 can combine into a full-object checksum.
var crcPolys = map[string]struct {
	poly  uint64
	width int
}{
	CRC32:     {0xEDB88320, 32},
	CRC32C:    {0x82F63B78, 32},
	CRC64NVME: {0x9A6C9329AC4BC9B5, 64},
}

// CanCombine reports whether algo's values can be combined across parts.
func CanCombine(algo string) bool { _, ok := crcPolys[algo]; return ok }

func gf2Times(mat []uint64, vec uint64) uint64 {
	var sum uint64
	for i := 0; vec != 0; i, vec = i+1, vec>>1 {
		if vec&1 != 0 {
			sum ^= mat[i]
		}
	}
	return sum
}

func gf2Square(square, mat []uint64) {
	for n := range mat {
		square[n] = gf2Times(mat, mat[n])
	}
}

// combine returns the CRC of A||B from crc(A), crc(B) and len(B) (zlib's method: apply
// len(B) zero bytes to crc(A) via repeated squaring of the shift operator).
func combine(poly uint64, width int, crc1, crc2 uint64, len2 int64) uint64 {
	if len2 <= 0 {
		return crc1 ^ crc2
	}
	even := make([]uint64, width)
	odd := make([]uint64, width)
	odd[0] = poly
	row := uint64(1)
	for n := 1; n < width; n++ {
		odd[n] = row
		row <<= 1
	}
	gf2Square(even, odd)
	gf2Square(odd, even)
	for {
		gf2Square(even, odd)
		if len2&1 != 0 {
			crc1 = gf2Times(even, crc1)
		}
		len2 >>= 1
		if len2 == 0 {
			break
		}
		gf2Square(odd, even)
		if len2&1 != 0 {
			crc1 = gf2Times(odd, crc1)
		}
		len2 >>= 1
		if len2 == 0 {
			break
		}
	}
	return crc1 ^ crc2
}

// CombinePart is one part's CRC (base64, as S3 spells it) and size.
type CombinePart struct {
	Value string
	Size  int64
}

// Combine returns the full-object CRC (base64) of parts laid end to end.
func Combine(algo string, parts []CombinePart) (string, error) {
	p, ok := crcPolys[algo]
	if !ok {
		return "", fmt.Errorf("%s cannot be combined into a full-object checksum", algo)
	}
	var acc uint64
	for i, part := range parts {
		raw, err := base64.StdEncoding.DecodeString(part.Value)
		if err != nil || len(raw) != p.width/8 {
			return "", fmt.Errorf("part %d has no valid %s checksum", i+1, algo)
		}
		var v uint64
		if p.width == 32 {
			v = uint64(binary.BigEndian.Uint32(raw))
		} else {
			v = binary.BigEndian.Uint64(raw)
		}
		if i == 0 {
			acc = v
			continue
		}
		acc = combine(p.poly, p.width, acc, v, part.Size)
	}
	out := make([]byte, p.width/8)
	if p.width == 32 {
		binary.BigEndian.PutUint32(out, uint32(acc))
	} else {
		binary.BigEndian.PutUint64(out, acc)
	}
	return base64.StdEncoding.EncodeToString(out), nil
}
