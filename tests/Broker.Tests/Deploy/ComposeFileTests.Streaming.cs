using System.Text.Json;
using System.Text.RegularExpressions;
using Broker.Telemetry;

namespace Broker.Tests.Deploy;

/// <summary>
/// Streaming in docker-compose.yml (docs/telemetry.md): mosquitto reachable only inside the compose network, its
/// least-privilege ACL, fleet-telemetry publishing where the replicas subscribe, and each replica with a session of its own.
/// MosquittoConfigTests runs the same mosquitto files with the real mosquitto.
/// </summary>
public sealed partial class ComposeFileTests
{
    [Fact]
    public async Task MqttIsReachableOnlyInsideTheComposeNetworkAndOnlyFleetTelemetryIsPublishedForCars()
    {
        var (exit, config) = await ComposeAsync(FilledEnvFile(), false, "config");
        Assert.True(exit == 0, config);
        var services = Services(config);

        Assert.DoesNotContain("ports:", services["mosquitto"]);
        Assert.Contains("expose:\n    - '1883'\n", services["mosquitto"]);
        foreach (var (service, block) in services)
        {
            Assert.DoesNotContain(PortsOf(block), p => p.Target == 1883 || p.Published == 1883);
        }
        Assert.Contains(PortsOf(services["nginx"]), p => (p.Published, p.Target) == (443, 443));   // the parser reads both forms
        Assert.Contains(PortsOf(services["prometheus"]), p => (p.HostIp, p.Target) == ("127.0.0.1", 9090));
        // Cars connect from anywhere: every address, the port the replicas put in each car's config.
        var published = Assert.Single(PortsOf(services["fleet-telemetry"]));
        Assert.Equal((4443, 4443, (string?)null), (published.Published, published.Target, published.HostIp));
        Assert.Contains("- /fleet-telemetry\n    - -config=/run/secrets/fleet_telemetry_config\n", services["fleet-telemetry"]);
        Assert.Contains("- source: fleet_telemetry_config\n", services["fleet-telemetry"]);
        Assert.Matches(@"- \S+/deploy/fleet-telemetry/certs:/etc/fleet-telemetry/certs:ro\n", services["fleet-telemetry"]);
        Assert.Contains("- source: mosquitto_passwd\n", services["mosquitto"]);
        Assert.Matches(@"- \S+/deploy/mosquitto/mosquitto\.conf:/mosquitto/config/mosquitto\.conf:ro\n", services["mosquitto"]);
        Assert.Matches(@"- \S+/deploy/mosquitto/acl:/mosquitto/config/acl:ro\n", services["mosquitto"]);
        Assert.Contains("- mqttdata:/mosquitto/data:rw\n", services["mosquitto"]);
        // Each MQTT credential reaches only the containers that use it.
        foreach (var (service, block) in services)
        {
            var mounted = Regex.Matches(block, @"- source: (\w+)\n").Select(m => m.Groups[1].Value).ToHashSet();
            Assert.Equal(service is "migrate" or "broker-1" or "broker-2", mounted.Contains("mqtt_broker_password"));
            Assert.Equal(service == "mosquitto", mounted.Contains("mosquitto_passwd"));
            Assert.Equal(service == "fleet-telemetry", mounted.Contains("fleet_telemetry_config"));
        }
        Assert.Equal(["mosquitto_passwd"], Regex.Matches(services["mosquitto"], @"- source: (\w+)\n").Select(m => m.Groups[1].Value));
        Assert.Equal(["fleet_telemetry_config"], Regex.Matches(services["fleet-telemetry"], @"- source: (\w+)\n").Select(m => m.Groups[1].Value));

        foreach (var replica in Replicas)
        {
            var env = EnvironmentOf(services[replica]);
            Assert.Equal("mosquitto", env["Telemetry__Mqtt__Host"]);
            // The ACL's read-only account of this replica, reading what fleet-telemetry writes; mosquitto makes it the client id
            // (stable: the replica's session and the messages queued in it outlive the container).
            Assert.Equal(replica, env["Telemetry__Mqtt__Username"]);
            Assert.Equal([$"read {FleetTelemetryConfig().GetProperty("mqtt").GetProperty("topic_base").GetString()}/#"], AclUsers()[replica]);
            Assert.False(env.ContainsKey("Telemetry__Mqtt__ClientId"));
            Assert.Equal("/run/secrets/mqtt_broker_password", env["Telemetry__Mqtt__Password_FILE"]);
            Assert.Contains("- source: mqtt_broker_password\n", services[replica]);
            Assert.Equal("placeholder", env["Telemetry__Server__Hostname"]);   // TELEMETRY_HOST
            Assert.Equal(published.Published.ToString(), env["Telemetry__Server__Port"].Trim('\''));
        }
    }

    [Fact]
    public void MosquittoRefusesAnonymousClientsAndGrantsTheBrokerOnlyReadingAndFleetTelemetryOnlyWriting()
    {
        var conf = File.ReadAllLines(DeployTools.PathOf("deploy/mosquitto/mosquitto.conf"))
            .Where(l => l.Length > 0 && !l.StartsWith('#')).ToList();
        Assert.Contains("listener 1883", conf);
        Assert.Single(conf, l => l.StartsWith("listener "));
        Assert.Contains("allow_anonymous false", conf);
        Assert.Contains("password_file /run/secrets/mosquitto_passwd", conf);   // the compose secret
        Assert.Contains("acl_file /mosquitto/config/acl", conf);                // where compose mounts deploy/mosquitto/acl
        Assert.Contains("persistence true", conf);
        Assert.Contains("persistence_location /mosquitto/data/", conf);         // the mqttdata volume
        Assert.DoesNotContain(conf, l => l.StartsWith("per_listener_settings") || l.StartsWith("allow_anonymous true"));
        Assert.Contains("use_username_as_clientid true", conf);                 // no account takes another's session over

        var topicBase = new TelemetryOptions().Mqtt.TopicBase;
        var users = AclUsers();
        Assert.Equal([.. Replicas, "fleet-telemetry"], users.Keys.Order());
        Assert.All(Replicas, replica => Assert.Equal([$"read {topicBase}/#"], users[replica]));
        Assert.Equal([$"write {topicBase}/#"], users["fleet-telemetry"]);
    }

    [Fact]
    public void FleetTelemetrySendsEveryRecordToMosquittoAsTheWriteOnlyAccountAndCommitsNoPassword()
    {
        var json = FleetTelemetryConfig();
        var records = json.GetProperty("records");
        Assert.Equal(["V", "alerts", "connectivity", "errors"], records.EnumerateObject().Select(r => r.Name).Order(StringComparer.Ordinal));
        Assert.All(records.EnumerateObject(), r => Assert.Equal(["mqtt"], r.Value.EnumerateArray().Select(d => d.GetString())));
        // fleet-telemetry refuses a reliable-ack source for connectivity, or one a record is not sent to.
        Assert.All(json.GetProperty("reliable_ack_sources").EnumerateObject(), s =>
        {
            Assert.NotEqual("connectivity", s.Name);
            Assert.Equal("mqtt", s.Value.GetString());
        });

        var mqtt = json.GetProperty("mqtt");
        Assert.Equal("mosquitto:1883", mqtt.GetProperty("broker").GetString());
        Assert.Equal("fleet-telemetry", mqtt.GetProperty("username").GetString());
        Assert.Equal("@MQTT_PUBLISHER_PASSWORD@", mqtt.GetProperty("password").GetString());   // filled in deploy/secrets only
        Assert.Equal(new TelemetryOptions().Mqtt.TopicBase, mqtt.GetProperty("topic_base").GetString());
        Assert.Equal(1, mqtt.GetProperty("qos").GetInt32());        // the replicas acknowledge after storing
        Assert.False(mqtt.GetProperty("retained").GetBoolean());

        Assert.Equal(4443, json.GetProperty("port").GetInt32());    // the container port docker-compose.yml publishes
        var tls = json.GetProperty("tls");
        Assert.Equal("/etc/fleet-telemetry/certs/fullchain.pem", tls.GetProperty("server_cert").GetString());
        Assert.Equal("/etc/fleet-telemetry/certs/privkey.pem", tls.GetProperty("server_key").GetString());
        // No ca_file: client certificates are checked against Tesla's vehicle CA built into fleet-telemetry.
        Assert.False(tls.TryGetProperty("ca_file", out _));
        Assert.True(json.GetProperty("rate_limit").GetProperty("enabled").GetBoolean());
    }

    private static JsonElement FleetTelemetryConfig() =>
        JsonDocument.Parse(File.ReadAllText(DeployTools.PathOf("deploy/fleet-telemetry/config.json"))).RootElement.Clone();

    /// <summary>deploy/mosquitto/acl as user → its <c>topic</c> grants; a grant before the first <c>user</c> (anonymous) fails.</summary>
    private static Dictionary<string, List<string>> AclUsers()
    {
        Dictionary<string, List<string>> users = [];
        List<string>? current = null;
        foreach (var line in File.ReadAllLines(DeployTools.PathOf("deploy/mosquitto/acl")).Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith('#')))
        {
            var words = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            switch (words)
            {
                case ["user", var name]:
                    users[name] = current = [];
                    break;
                case ["topic", "read" or "write" or "readwrite" or "deny", var topic]:
                    Assert.True(current is not null, $"'{line}' applies to anonymous clients");
                    current!.Add($"{words[1]} {topic}");
                    break;
                default:
                    Assert.Fail($"deploy/mosquitto/acl: '{line}' is neither a user nor a topic grant (no `pattern`, no implicit readwrite)");
                    break;
            }
        }
        return users;
    }

    private sealed record PublishedPort(int? Published, int Target, string? HostIp);

    /// <summary>
    /// A rendered service's `ports:`. docker-compose v1.29 writes a port on every address in the long form
    /// (<c>published:</c>, <c>target:</c>) and one bound to an address as <c>ip:published:target/tcp</c>.
    /// </summary>
    private static List<PublishedPort> PortsOf(string service)
    {
        var block = Regex.Match(service, @"^    ports:\n((?:    - .*\n(?:      .*\n)*)*)", RegexOptions.Multiline).Groups[1].Value;
        return Regex.Matches(block, @"^    - (.*\n(?:      .*\n)*)", RegexOptions.Multiline).Select(m =>
        {
            var item = m.Groups[1].Value;
            if (Regex.Match(item, @"^'?(?:([\d.]+):)?(\d+):(\d+)(?:/\w+)?'?\n$") is { Success: true } s)
            {
                return new PublishedPort(int.Parse(s.Groups[2].Value), int.Parse(s.Groups[3].Value), s.Groups[1].Success ? s.Groups[1].Value : null);
            }
            string? Field(string name) => Regex.Match(item, $@"\b{name}: '?([^'\n]+)'?") is { Success: true } f ? f.Groups[1].Value : null;
            return new PublishedPort(Field("published") is { } p ? int.Parse(p) : null, int.Parse(Field("target")!), Field("host_ip"));
        }).ToList();
    }
}
