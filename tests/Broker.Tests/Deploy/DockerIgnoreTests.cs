using System.Text;
using System.Text.RegularExpressions;

namespace Broker.Tests.Deploy;

/// <summary>
/// The root .dockerignore keeps secrets, keys and local state out of every build context, and keeps in what
/// the Dockerfiles copy. CI has no Docker engine, so the file is read with Docker's own matching rules
/// (moby/patternmatcher: <c>**</c> spans directories, a matched directory takes everything under it, the
/// last matching line wins, <c>!</c> re-includes); deploy/docker-check.sh compares this with a real engine.
/// </summary>
public sealed class DockerIgnoreTests
{
    [Theory]
    [InlineData(".env")]
    [InlineData(".env.production")]
    [InlineData("deploy/secrets/vault_keys")]
    [InlineData("deploy/secrets/postgres_password")]
    [InlineData("deploy/nginx/certs/privkey.pem")]
    [InlineData("deploy/nginx/certs/local.crt")]
    [InlineData("deploy/fleet-telemetry/certs/privkey.pem")]
    [InlineData("deploy/fleet-telemetry/certs/fullchain.crt")]
    [InlineData("deploy/secrets/mosquitto_passwd")]
    [InlineData("deploy/secrets/fleet_telemetry_config")]
    [InlineData("src/Broker/bin/Release/net10.0/Broker.dll")]
    [InlineData("src/Broker/obj/project.assets.json")]
    [InlineData("tests/Broker.Tests/bin/Release/net10.0/Broker.Tests.dll")]
    [InlineData("tests/OidcProvider/node_modules/oidc-provider/package.json")]
    [InlineData(".git")]
    [InlineData(".git/config")]
    [InlineData(".demo/pg/data/PG_VERSION")]
    [InlineData(".test-pg/data/PG_VERSION")]
    [InlineData("TestResults/run-1/broker.trx")]
    [InlineData("bench/out/metrics.txt")]
    [InlineData("private-key.pem")]
    [InlineData("src/Broker/partner.key")]
    public void SecretsKeysAndLocalStateNeverReachTheBuildContext(string path)
    {
        Assert.True(Excluded(path), $"{path} would be sent to the Docker build context");
    }

    [Theory]
    [InlineData("global.json")]
    [InlineData("Directory.Build.props")]
    [InlineData("Directory.Packages.props")]
    [InlineData("appsettings.Development.json")]
    [InlineData("src/Broker/Broker.csproj")]
    [InlineData("src/Broker/Program.cs")]
    [InlineData("src/Broker/Hosting/SecretFiles.cs")]
    [InlineData("migrations/BrokerDbContextModelSnapshot.cs")]
    [InlineData("src/TeslaSimulator/TeslaSimulator.csproj")]
    [InlineData("src/VehicleCommand.Messages/VehicleCommand.Messages.csproj")]
    [InlineData("src/VehicleCommand.Messages/Protos/universal_message.proto")]
    public void WhatTheDockerfilesCopyStaysInTheBuildContext(string path)
    {
        Assert.False(Excluded(path), $"{path} is needed by deploy/Dockerfile.* but .dockerignore leaves it out");
    }

    [Fact]
    public void NoDockerfileHasAnIgnoreFileOfItsOwn()
    {
        // BuildKit prefers deploy/Dockerfile.x.dockerignore over the root file; two lists would drift apart.
        Assert.Empty(Directory.GetFiles(DeployTools.PathOf("deploy"), "*.dockerignore"));
    }

    private static bool Excluded(string path)
    {
        var excluded = false;
        foreach (var (pattern, exception) in Patterns())
        {
            if (Ancestors(path).Any(pattern.IsMatch))
            {
                excluded = !exception;
            }
        }
        return excluded;
    }

    /// <summary>The path and every directory above it: a pattern that matches a directory excludes its contents.</summary>
    private static IEnumerable<string> Ancestors(string path)
    {
        for (var p = path; p.Length > 0; p = p.Contains('/') ? p[..p.LastIndexOf('/')] : "")
        {
            yield return p;
        }
    }

    private static IEnumerable<(Regex Pattern, bool Exception)> Patterns() =>
        File.ReadAllLines(DeployTools.PathOf(".dockerignore"))
            .Select(l => l.Trim())
            .Where(l => l.Length > 0 && !l.StartsWith('#'))
            .Select(l => l.StartsWith('!') ? (Compile(l[1..]), true) : (Compile(l), false));

    /// <summary>patternmatcher's translation: <c>**</c> any number of directories, <c>*</c> and <c>?</c> within one.</summary>
    private static Regex Compile(string pattern)
    {
        var cleaned = pattern.Trim('/');
        var regex = new StringBuilder("^");
        for (var i = 0; i < cleaned.Length; i++)
        {
            switch (cleaned[i])
            {
                case '*' when i + 1 < cleaned.Length && cleaned[i + 1] == '*':
                    i++;
                    while (i + 1 < cleaned.Length && cleaned[i + 1] == '/')
                    {
                        i++;
                    }
                    regex.Append(i + 1 == cleaned.Length ? ".*" : "(.*/)?");
                    break;
                case '*':
                    regex.Append("[^/]*");
                    break;
                case '?':
                    regex.Append("[^/]");
                    break;
                default:
                    regex.Append(Regex.Escape(cleaned[i].ToString()));
                    break;
            }
        }
        return new Regex(regex.Append('$').ToString());
    }
}
