module github.com/hashicorp/go-getter

require (
	github.com/bgentry/go-netrc v0.0.0-20140422174119-9fd32a8b3d3d
	github.com/hashicorp/go-cleanhttp v0.5.2
	github.com/hashicorp/go-version v1.9.0
	github.com/klauspost/compress v1.20.1
	github.com/mitchellh/go-homedir v1.1.0
	github.com/ulikunitz/xz v0.5.17
	golang.org/x/sys v0.48.0
)

go 1.26.0
