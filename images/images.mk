# Generated protobuf modules: images/proto/*.proto -> images/pb/*_pb2.py.
# protoc emits top-level "import x_pb2"; rewrite to package-relative imports
# so images.pb is a self-contained package.
PROTO_SRC := $(wildcard images/proto/*.proto)
PROTO_STAMP := images/pb/.stamp

$(PROTO_STAMP): $(PROTO_SRC) images/images.mk $(STAMP_APT)
	rm -f images/pb/*_pb2.py
	protoc -Iimages/proto --python_out=images/pb $(PROTO_SRC)
	sed -i -E 's/^import ([a-z0-9_]+_pb2) as /from . import \1 as /' images/pb/*_pb2.py
	touch $@

BUILD += $(PROTO_STAMP)
CLEAN += images/pb/*_pb2.py $(PROTO_STAMP)
