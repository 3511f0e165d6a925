# Sourced by the scripts in this directory.

# oh_configure DIR [MESON OPTION]...: sets up DIR, or brings an existing DIR
# to these options, so reruns are incremental.
oh_configure() {
        local dir=$1
        shift
        if [[ -f $dir/meson-private/coredata.dat ]]; then
                meson setup --reconfigure "$dir" "$@"
        else
                meson setup "$dir" "$@"
        fi
}
