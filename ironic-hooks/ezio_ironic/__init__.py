"""ezio for OpenStack Ironic: a deploy interface and an agent deploy step
that write the instance image through an ezio BitTorrent swarm."""
