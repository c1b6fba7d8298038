package main

import (
	"encoding/binary"
	"errors"
	"io"

	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
)

// response is what the load generator reads of a (Delta)DiscoveryResponse.
type response struct {
	typeURL string
	version string
	nonce   string
	// resources: the messages inside the Anys (only for CDS and LDS, which are decoded).
	resources [][]byte
}

// received is a scanned response and its size on the wire.
type received struct {
	response
	size int
}

// scanResponse reads DiscoveryResponse (version_info=1, resources=2 Any, type_url=4, nonce=5) or
// DeltaDiscoveryResponse (system_version_info=1, resources=2 Resource{resource=2 Any}, type_url=4,
// nonce=5). The first pass walks gRPC's buffers, skipping the resources; only a CDS or LDS
// response (small: a few clusters, one listener) is then copied out to read its resources.
func scanResponse(data mem.BufferSlice, delta bool) (response, error) {
	r, err := scanFields(data)
	if err != nil || (r.typeURL != typeCDS && r.typeURL != typeLDS) {
		return r, err
	}
	b := data.Materialize()
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return r, protowire.ParseError(n)
		}
		b = b[n:]
		n = protowire.ConsumeFieldValue(num, typ, b)
		if n < 0 {
			return r, protowire.ParseError(n)
		}
		if num == 2 && typ == protowire.BytesType {
			v, _ := protowire.ConsumeBytes(b[:n])
			if delta {
				v = field(v, 2)
			}
			r.resources = append(r.resources, field(v, 2))
		}
		b = b[n:]
	}
	return r, nil
}

// scanFields reads fields 1, 4 and 5 and skips everything else, without copying the buffers.
func scanFields(data mem.BufferSlice) (response, error) {
	var r response
	data.Ref() // the reader frees what it has read; gRPC frees the slice itself after Unmarshal
	rd := data.Reader()
	defer rd.Close()
	for rd.Remaining() > 0 {
		tag, err := binary.ReadUvarint(rd)
		if err != nil {
			return r, err
		}
		num, typ := protowire.Number(tag>>3), protowire.Type(tag&7)
		var skip uint64
		switch typ {
		case protowire.VarintType:
			_, err = binary.ReadUvarint(rd)
		case protowire.Fixed64Type:
			skip = 8
		case protowire.Fixed32Type:
			skip = 4
		case protowire.BytesType:
			var n uint64
			if n, err = binary.ReadUvarint(rd); err != nil {
				return r, err
			}
			if num == 1 || num == 4 || num == 5 {
				v := make([]byte, n)
				_, err = io.ReadFull(rd, v)
				switch num {
				case 1:
					r.version = string(v)
				case 4:
					r.typeURL = string(v)
				default:
					r.nonce = string(v)
				}
			} else {
				skip = n
			}
		default:
			return r, errors.New("unexpected wire type")
		}
		if err == nil && skip > 0 {
			_, err = rd.Discard(int(skip))
		}
		if err != nil {
			return r, err
		}
	}
	if r.typeURL == "" {
		return r, errors.New("response without type_url")
	}
	return r, nil
}

// field returns the last length-delimited field `want` of message b (nil when absent).
func field(b []byte, want protowire.Number) []byte {
	var out []byte
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return out
		}
		b = b[n:]
		n = protowire.ConsumeFieldValue(num, typ, b)
		if n < 0 {
			return out
		}
		if num == want && typ == protowire.BytesType {
			out, _ = protowire.ConsumeBytes(b[:n])
		}
		b = b[n:]
	}
	return out
}
