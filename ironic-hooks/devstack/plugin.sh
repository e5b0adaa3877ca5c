#!/bin/bash
# plugin.sh - devstack plugin for ezio: deploy Ironic nodes' images through
# a BitTorrent swarm (deploy_interface=ezio).
#
# In local.conf:
#   enable_plugin ezio https://opendev.example/ezio
#   IRONIC_DEPLOY_DRIVER=ezio-ipmi     # or ezio-redfish
# stack.sh then builds and installs ezio-deploy and ezio-mktorrent, installs
# the ezio_ironic package where Ironic runs, starts a tracker (opentracker),
# and adds the ezio deploy interface and hardware types to ironic.conf with
# an [ezio] section naming the tracker; it links the diskimage-builder
# element ezio-agent where devstack builds the agent's ramdisk, so that
#   IRONIC_BUILD_DEPLOY_RAMDISK=True
#   IRONIC_DIB_RAMDISK_OPTIONS="debian-minimal ezio-agent"
#   IRONIC_DIB_RAMDISK_RELEASE=bookworm
# put ezio-deploy and the agent's ezio hardware manager into it.

# Build ezio and install it, and the Python package, where Ironic runs.
function install_ezio {
    install_package build-essential pkg-config libtorrent-rasterbar-dev \
        libcurl4-openssl-dev libjson-c-dev libyaml-dev libssl-dev \
        libblkid-dev libxxhash-dev partclone opentracker
    make -C "$EZIO_DIR" all
    sudo make -C "$EZIO_DIR" install PREFIX="$EZIO_PREFIX"
    setup_develop "$EZIO_DIR/ironic-hooks"
}

# The element ezio-agent where devstack's ramdisk build finds elements
# (lib/ironic builds with ELEMENTS_PATH set to the agent builder's dib/):
# IRONIC_DIB_RAMDISK_OPTIONS="debian-minimal ezio-agent" then uses it.
function install_ezio_element {
    git_clone "$IRONIC_PYTHON_AGENT_BUILDER_REPO" "$IRONIC_PYTHON_AGENT_BUILDER_DIR" \
        "$IRONIC_PYTHON_AGENT_BUILDER_BRANCH"
    ln -sfn "$EZIO_DIR/ironic-hooks/elements/ezio-agent" "$IRONIC_PYTHON_AGENT_BUILDER_DIR/dib/ezio-agent"
}

# Add item to the comma-separated list in option of section of file,
# unless it is there already.
function ezio_iniadd {
    local file=$1 section=$2 option=$3 item=$4
    local current
    current=$(iniget "$file" "$section" "$option")
    if [[ ",$current," == *",$item,"* ]]; then
        return 0
    fi
    iniset "$file" "$section" "$option" "${current:+$current,}$item"
}

# ironic.conf: the interface, the hardware types, and [ezio].
function configure_ezio {
    local tracker="http://${SERVICE_HOST}:${EZIO_TRACKER_PORT}/announce"

    ezio_iniadd "$IRONIC_CONF_FILE" DEFAULT enabled_deploy_interfaces ezio
    ezio_iniadd "$IRONIC_CONF_FILE" DEFAULT enabled_hardware_types ezio-ipmi
    ezio_iniadd "$IRONIC_CONF_FILE" DEFAULT enabled_hardware_types ezio-redfish
    if [[ "$EZIO_SET_DEFAULT_DEPLOY_INTERFACE" == "True" ]]; then
        iniset "$IRONIC_CONF_FILE" DEFAULT default_deploy_interface ezio
    fi
    iniset "$IRONIC_CONF_FILE" ezio trackers "$tracker"
    iniset "$IRONIC_CONF_FILE" ezio seed_after "$EZIO_SEED_AFTER"
    iniset "$IRONIC_CONF_FILE" ezio seed_timeout "$EZIO_SEED_TIMEOUT"
    iniset "$IRONIC_CONF_FILE" ezio deploy_timeout "$EZIO_DEPLOY_TIMEOUT"
    iniset "$IRONIC_CONF_FILE" ezio verify "$EZIO_VERIFY"
    # the conductor adds the torrents it makes and signals the tracker
    iniset "$IRONIC_CONF_FILE" ezio tracker_whitelist "$EZIO_DATA_DIR/tracker/whitelist"
    iniset "$IRONIC_CONF_FILE" ezio seeder_ports "$EZIO_SEEDER_PORTS"
    # http: beside the torrent on the conductor; swift: with Ironic's [swift]
    iniset "$IRONIC_CONF_FILE" ezio web_seed "$EZIO_WEB_SEED"
}

# The tracker: Debian's opentracker serves only the info-hashes in its
# whitelist.  The conductor (running as $STACK_USER) adds those of the
# torrents it makes and sends opentracker SIGHUP to read it again, so the
# file is $STACK_USER's and opentracker drops root for $STACK_USER.
function start_ezio_tracker {
    sudo install -d -m 0755 "$EZIO_DATA_DIR/tracker"
    sudo touch "$EZIO_DATA_DIR/tracker/whitelist"
    sudo chown "$STACK_USER" "$EZIO_DATA_DIR/tracker/whitelist"
    sudo chmod 0644 "$EZIO_DATA_DIR/tracker/whitelist"
    run_process ezio-tracker "/usr/bin/opentracker -i $SERVICE_HOST -p $EZIO_TRACKER_PORT -P $EZIO_TRACKER_PORT -d $EZIO_DATA_DIR/tracker -w whitelist -u $STACK_USER" root root
}

# ezio_allow_torrent FILE: let the tracker serve the torrent FILE.
function ezio_allow_torrent {
    local hash
    # the dry run's plan names it; nothing is written
    hash=$("$EZIO_PREFIX/bin/ezio-deploy" --torrent "$1" --target "$EZIO_DATA_DIR/none" --dry-run |
        sed -n 's/.*info hash \([0-9a-f]\{40\}\).*/\1/p')
    if [[ -z "$hash" ]]; then
        echo "ezio_allow_torrent: $1 is not a torrent ezio-deploy reads" >&2
        return 1
    fi
    echo "$hash" | sudo tee -a "$EZIO_DATA_DIR/tracker/whitelist" > /dev/null
    sudo pkill -HUP -x opentracker || true
}

function stop_ezio_tracker {
    stop_process ezio-tracker
}

function cleanup_ezio {
    sudo rm -rf "$EZIO_DATA_DIR"
    sudo rm -f "$EZIO_PREFIX/bin/ezio-deploy" "$EZIO_PREFIX/bin/ezio-mktorrent"
    rm -f "$IRONIC_PYTHON_AGENT_BUILDER_DIR/dib/ezio-agent"
}

if is_service_enabled ezio; then
    if [[ "$1" == "stack" && "$2" == "install" ]]; then
        echo_summary "Installing ezio"
        install_ezio
        install_ezio_element
    elif [[ "$1" == "stack" && "$2" == "post-config" ]]; then
        echo_summary "Configuring Ironic for ezio"
        configure_ezio
    elif [[ "$1" == "stack" && "$2" == "extra" ]]; then
        if is_service_enabled ezio-tracker; then
            echo_summary "Starting ezio's tracker"
            start_ezio_tracker
        fi
    fi
    if [[ "$1" == "unstack" ]]; then
        stop_ezio_tracker
    fi
    if [[ "$1" == "clean" ]]; then
        cleanup_ezio
    fi
fi
