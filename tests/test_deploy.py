"""examples/deploy/ exercised: the HAProxy and nginx configurations, as written there (only
their ports replaced by free ones), in front of two build/demo-asan instances started with
the flags the configurations name; a rolling restart under keep-alive load through each
proxy loses no request. The Kubernetes manifest cannot run here (no cluster): its
structure is checked with Python (probes, preStop, the grace period against the drain and
shutdown budget, limits, the Service selector) and its container command is run as it is
(the binary path, host and port replaced) to see the open-file limit it sets, the probes
answer, and /ready fail while /health holds during a graceful stop.
Loopback only; HAProxy, nginx and the demos are ended by their PIDs."""
import http.client, os, re, resource, shutil, signal, socket, subprocess, sys, tempfile
import threading, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pyharness import Demo, test, run_all, ROOT, DEMO, free_port
import yaml   # Debian python3-yaml (tests/deps.sh)

DEPLOY = os.path.join(ROOT, "examples", "deploy")
HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def get(port, path, timeout=5):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request("GET", path)
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def seconds(flag, text):
    m = re.search(r"--%s (\d+(?:\.\d+)?)" % flag, text)
    assert m, "no --%s in %r" % (flag, text[:200])
    return float(m.group(1))


# ------------------------------------------------------------------ Kubernetes

@test
def test_kubernetes_manifest():
    with open(os.path.join(DEPLOY, "kubernetes.yaml")) as f:
        docs = {d["kind"]: d for d in yaml.safe_load_all(f)}
    dep, svc = docs["Deployment"], docs["Service"]
    assert "PodDisruptionBudget" in docs
    pod = dep["spec"]["template"]
    assert dep["spec"]["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
    assert svc["spec"]["selector"].items() <= pod["metadata"]["labels"].items()
    assert dep["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    (c,) = pod["spec"]["containers"]
    cmd = " ".join(c["command"])
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    assert seconds("port", cmd) == ports["http"]
    assert svc["spec"]["ports"][0]["targetPort"] == "http"
    rp, lp = c["readinessProbe"]["httpGet"], c["livenessProbe"]["httpGet"]
    assert (rp["path"], rp["port"]) == ("/ready", "http") and (lp["path"], lp["port"]) == ("/health", "http")
    pre = " ".join(c["lifecycle"]["preStop"]["exec"]["command"])
    sleep = float(re.search(r"sleep (\d+)", pre).group(1))
    drain, shutdown = seconds("drain-delay", cmd), seconds("shutdown-timeout", cmd)
    grace = pod["spec"]["terminationGracePeriodSeconds"]
    assert grace > sleep + drain + shutdown, (grace, sleep, drain, shutdown)
    # readiness must notice a stop within the drain delay plus preStop
    assert c["readinessProbe"]["periodSeconds"] * c["readinessProbe"]["failureThreshold"] <= sleep + drain
    lim, req = c["resources"]["limits"], c["resources"]["requests"]
    assert lim["cpu"] and lim["memory"] and req["cpu"] and req["memory"]
    nofile = int(re.search(r"ulimit -n (\d+)", cmd).group(1))
    assert nofile >= seconds("max-connections", cmd) + 64
    assert seconds("keepalive-timeout", cmd) > 60          # nginx ingress upstream idle: 60 s
    assert pod["metadata"]["annotations"]["prometheus.io/path"] == "/metrics"
    # the container's command, run here: the binary, host and port replaced; the open-file
    # limit lowered to this machine's hard limit when that is below the manifest's
    port = free_port()
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    want = nofile if hard == resource.RLIM_INFINITY or hard >= nofile else hard
    local = (cmd.replace("/bin/sh -c ", "", 1).replace("/app/demo", DEMO)
             .replace("--host 0.0.0.0", "--host 127.0.0.1").replace("--port 8080", "--port %d" % port)
             .replace("ulimit -n %d" % nofile, "ulimit -n %d" % want)
             .replace("--max-connections 60000", "--max-connections %d" % (want - 100)))
    p = subprocess.Popen(["/bin/sh", "-c", local], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        line = p.stdout.readline().decode()
        assert "listening on 127.0.0.1:%d" % port in line, (line, p.stderr.read(2000))
        with open("/proc/%d/limits" % p.pid) as f:
            lim_line = next(l for l in f if l.startswith("Max open files"))
        assert lim_line.split()[3] == str(want), lim_line      # `exec`: the same process
        assert get(port, "/ready")[0] == 200 and get(port, "/health")[0] == 200
        p.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        assert get(port, "/ready")[0] == 503                   # draining: out of rotation
        assert get(port, "/health")[0] == 200                  # but alive: not killed
        rc = p.wait(timeout=shutdown + 5)
        err = p.stderr.read().decode()
        assert rc == 0, err[-2000:]
        assert '"path":"/ready"' in err and '"status":503' in err   # access log on stderr
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


# ------------------------------------------------------------ rolling restarts

def backend_args(cfg_text):
    """The server flags the configuration is tuned against ("servers run with ...")."""
    m = re.search(r"servers run with ((?:--[a-z-]+ \d+ ?)+)", cfg_text)
    assert m, "the configuration must say which server flags it is tuned against"
    return m.group(1).split()


def rolling_restart(cfg_text, start_proxy, proxy_idle_s):
    args = backend_args(cfg_text)
    ka = float(args[args.index("--keepalive-timeout") + 1])
    assert proxy_idle_s < ka, ("the proxy's idle timeout must be below the server's", proxy_idle_s, ka)
    fe, pa, pb = free_port(), free_port(), free_port()
    text = (cfg_text.replace("127.0.0.1:8080", "127.0.0.1:%d" % fe)
            .replace("127.0.0.1:8081", "127.0.0.1:%d" % pa).replace("127.0.0.1:8082", "127.0.0.1:%d" % pb))
    tmp = tempfile.mkdtemp(prefix="test_deploy-")
    demos = {pa: Demo(workers=1, args=args, port=pa).start(), pb: Demo(workers=1, args=args, port=pb).start()}
    proxy = start_proxy(tmp, text)
    ok, failed, stop = [0], [], [False]
    try:
        end = time.time() + 15
        while time.time() < end:
            try:
                if get(fe, "/ready", 2)[0] == 200:
                    break
            except OSError:
                pass
            time.sleep(0.1)
        time.sleep(2.5)                                   # both backends up (rise 2)

        def client():
            c = http.client.HTTPConnection("127.0.0.1", fe, timeout=10)   # keep-alive
            while not stop[0]:
                try:
                    c.request("GET", "/sleep/5")
                    r = c.getresponse()
                    body = r.read()
                    if r.status == 200 and body == b"slept 5 ms\n":
                        ok[0] += 1
                    else:
                        failed.append((r.status, body[:80]))
                except (OSError, http.client.HTTPException) as e:
                    failed.append(repr(e))
                    c.close()
                    c = http.client.HTTPConnection("127.0.0.1", fe, timeout=10)
            c.close()
        th = [threading.Thread(target=client) for _ in range(6)]
        for t in th:
            t.start()
        time.sleep(1.0)
        for port in (pa, pb):
            assert demos[port].stop(timeout=30) == 0      # SIGTERM: drain, finish, exit
            demos[port] = Demo(workers=1, args=args, port=port).start()
            time.sleep(3.0)                               # back in rotation
        time.sleep(1.0)
        stop[0] = True
        for t in th:
            t.join(15)
        assert ok[0] > 300, ok[0]
        assert not failed, (len(failed), failed[:5])
    finally:
        stop[0] = True
        proxy.send_signal(signal.SIGTERM)
        try:
            proxy.wait(10)
        except subprocess.TimeoutExpired:
            proxy.kill()
            proxy.wait()
        for d in demos.values():
            if d.proc.poll() is None:
                d.stop(timeout=30)
        shutil.rmtree(tmp, ignore_errors=True)


@test
def test_haproxy_rolling_restart_loses_nothing():
    assert os.path.exists(HAPROXY), "haproxy is not installed (tests/deps.sh installs it)"
    with open(os.path.join(DEPLOY, "haproxy.cfg")) as f:
        cfg = f.read()
    idle = float(re.search(r"timeout server (\d+)s", cfg).group(1))

    def start(tmp, text):
        path = os.path.join(tmp, "haproxy.cfg")
        with open(path, "w") as f:
            f.write(text)
        return subprocess.Popen([HAPROXY, "-f", path, "-db"], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
    rolling_restart(cfg, start, idle)


@test
def test_nginx_rolling_restart_loses_nothing():
    assert os.path.exists(NGINX), "nginx is not installed (tests/deps.sh installs it)"
    with open(os.path.join(DEPLOY, "nginx.conf")) as f:
        cfg = f.read()
    idle = float(re.search(r"keepalive_timeout (\d+)s", cfg).group(1))

    def start(tmp, text):
        with open(os.path.join(tmp, "nginx.conf"), "w") as f:
            f.write(text)
        return subprocess.Popen([NGINX, "-p", tmp + "/", "-c", os.path.join(tmp, "nginx.conf"),
                                 "-e", os.path.join(tmp, "error.log"),
                                 "-g", "daemon off; pid %s;" % os.path.join(tmp, "nginx.pid")],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    rolling_restart(cfg, start, idle)


if __name__ == "__main__":
    sys.exit(run_all())
