"""The ``[ezio]`` options of the conductor and of the agent.

Both sides register them on the process-wide ``oslo_config.cfg.CONF``
(Ironic's and the agent's configuration object), so that they come from
``ironic.conf`` on the conductor and from the agent's configuration in the
ramdisk.  ``oslo-config-generator --namespace ezio_ironic`` lists them.
"""

from oslo_config import cfg

CONF = cfg.CONF

GROUP = cfg.OptGroup('ezio', title='ezio: deploy images through a BitTorrent swarm')

conductor_opts = [
    cfg.ListOpt('trackers', default=[],
                help='Tracker announce URLs every node of a deploy announces '
                     'to, besides those of the torrent '
                     '(http://HOST:PORT/announce).'),
    cfg.StrOpt('seed_after', default='until-done',
               help='How long a node keeps serving the image once it has '
                    'written it: "none", "until-done" (until the tracker '
                    'knows no node still downloading) or a number of '
                    'seconds.'),
    cfg.IntOpt('seed_timeout', default=300, min=0,
               help='Seconds after which a node stops serving whatever '
                    'seed_after says (0: never, allowed only when '
                    '[conductor]deploy_callback_timeout is 0). With '
                    'deploy_timeout and 60 s, it must fit in '
                    '[conductor]deploy_callback_timeout: validate refuses '
                    'a node otherwise.'),
    cfg.IntOpt('deploy_timeout', default=1200, min=0,
               help='Seconds a node may take to hold the whole image before '
                    'its deploy step fails (0: never, allowed only when '
                    '[conductor]deploy_callback_timeout is 0).'),
    cfg.ListOpt('peers', default=[],
                help='HOST:PORT of peers every node connects to directly, '
                     'for swarms without a tracker.'),
    cfg.ListOpt('allow', default=[],
                help='The addresses (CIDRs, e.g. the provisioning network '
                     '10.0.0.0/16) every node takes peers from; connections '
                     'to or from any other address are refused. Named peers, '
                     'the conductor\'s seeder and the web seed are allowed '
                     'too. Empty: any address.'),
    cfg.StrOpt('rack_from', default='switch', choices=[
        ('switch', 'the switch the node\'s ports are cabled to: '
                   'switch_info, else switch_id, of the local_link_connection '
                   'of its first port that has one'),
        ('none', 'only what driver_info or instance_info ezio_rack says')],
               help='Where the rack of a node comes from when neither its '
                    'instance_info nor its driver_info names one '
                    '(ezio_rack). With racks every piece crosses into a '
                    'rack about once.'),
    cfg.IntOpt('rack_prefix', default=0, min=0, max=128,
               help='Instead: nodes whose provisioning addresses share '
                    'this many leading bits are in one rack (a subnet per '
                    'rack); 0: off. A rack named for the node comes '
                    'first.'),
    cfg.StrOpt('verify', default='data', choices=['data', 'full', 'none'],
               help='What a node reads back once the image is written: every '
                    'piece (data), also the zero ranges and the digest (full), '
                    'or nothing.'),
    # the torrent the conductor makes for nodes that name none
    cfg.StrOpt('mktorrent_binary', default='ezio-mktorrent',
               help='The ezio-mktorrent program on the conductor (a name '
                    'looked up in PATH, or a path).'),
    cfg.StrOpt('publish_subdir', default='ezio',
               help='Where, under [deploy]http_root, the conductor publishes '
                    'the torrents it makes (and their web seeds\' payload '
                    'files); served at [deploy]http_url/<publish_subdir>/.'),
    cfg.StrOpt('web_seed', default='http', choices=[
        ('http', 'the payload file beside the torrent, served by the '
                 'conductor\'s HTTP server'),
        ('swift', 'the payload file uploaded to Swift (the container '
                  'swift_container, with Ironic\'s [swift] credentials), '
                  'named by a temporary URL'),
        ('none', 'no web seed')],
               help='Where the BEP 19 web seed of each torrent the conductor '
                    'makes lives: the payload file (the image\'s used '
                    'blocks). Nodes fetch from it only when no peer holds a '
                    'piece they lack. "http" costs the conductor the space '
                    'of the image\'s data.'),
    cfg.StrOpt('swift_container', default='ezio',
               help='The Swift container of the payload files (web_seed = '
                    'swift).'),
    cfg.IntOpt('swift_temp_url_duration', default=7 * 24 * 3600, min=3600,
               help='Seconds the temporary URL of a payload in Swift is '
                    'valid; the conductor names a new one in the torrent '
                    'when less than half of it is left.'),
    cfg.BoolOpt('conductor_seeder', default=True,
                help='Seed each image the conductor made a torrent of (with '
                     'deploy_binary --seed, from the cached image) while '
                     'deploys of it are in progress.'),
    cfg.StrOpt('seeder_address', default='0.0.0.0',
               help='The address the conductor\'s seeders listen on.'),
    cfg.StrOpt('seeder_ports', default='6890:6929',
               help='LOW:HIGH, the ports the conductor\'s seeders listen on, '
                    'one per image being deployed.'),
    cfg.StrOpt('tracker_whitelist',
               help='The whitelist file of the tracker (opentracker -w): the '
                    'conductor adds the info-hash of every torrent it makes '
                    'and sends SIGHUP to the opentracker processes it may '
                    'signal, so that the tracker reads it again. Unset: the '
                    'tracker needs no whitelist.'),
]

agent_opts = [
    cfg.StrOpt('deploy_binary', default='ezio-deploy',
               help='The ezio-deploy program in the ramdisk, and on the '
                    'conductor for its seeders (a name looked up in PATH, or '
                    'a path).'),
    cfg.StrOpt('work_dir', default='/run/ezio',
               help='Where the agent writes the node.yaml and token file of '
                    'a deploy (mode 0700).'),
    cfg.StrOpt('listen', default='0.0.0.0:6881',
               help='ADDR:PORT ezio-deploy accepts peers on.'),
]

CONF.register_group(GROUP)
CONF.register_opts(conductor_opts, group=GROUP)
CONF.register_opts(agent_opts, group=GROUP)


def list_opts():
    """The options, for oslo-config-generator (entry point oslo.config.opts).

    :returns: a list of (group, options) pairs.
    """
    return [(GROUP, conductor_opts + agent_opts)]
