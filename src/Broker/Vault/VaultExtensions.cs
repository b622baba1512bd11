using Microsoft.AspNetCore.DataProtection.KeyManagement;
using Microsoft.Extensions.Options;

namespace Broker.Vault;

public static class VaultExtensions
{
    /// <summary>
    /// Registers the token vault. Outside Development the broker refuses to start without a key;
    /// in Development an ephemeral key is made (tokens stored under it are lost on restart).
    /// </summary>
    public static WebApplicationBuilder AddVault(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<VaultOptions>().BindConfiguration(VaultOptions.SectionName).ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<VaultOptions>>(new VaultOptionsValidator(builder.Environment.IsDevelopment()));
        builder.Services.AddSingleton(sp =>
        {
            var keys = VaultKeys.Load(sp.GetRequiredService<IOptions<VaultOptions>>().Value);
            if (keys.Count == 0)
            {
                sp.GetRequiredService<ILogger<TokenVault>>().LogWarning(
                    "No vault key configured: using an ephemeral Development key. Tokens stored now cannot be read after a restart. {Hint}",
                    VaultOptions.HowToCreateAKey);
                keys = [("ephemeral-dev", System.Security.Cryptography.RandomNumberGenerator.GetBytes(32))];
            }
            return new TokenVault(keys);
        });
        builder.Services.AddOptions<KeyManagementOptions>()
            .Configure<TokenVault>((o, vault) => o.XmlEncryptor = new VaultXmlEncryptor(vault));
        return builder;
    }
}

/// <summary>Names the exact problem with the keys (never the key material) and how to fix it.</summary>
internal sealed class VaultOptionsValidator(bool allowEphemeral) : IValidateOptions<VaultOptions>
{
    public ValidateOptionsResult Validate(string? name, VaultOptions options)
    {
        if (VaultKeys.Problem(options) is { } problem)
        {
            return ValidateOptionsResult.Fail($"{problem} {VaultOptions.HowToCreateAKey}");
        }
        if (!allowEphemeral && VaultKeys.Load(options).Count == 0)
        {
            return ValidateOptionsResult.Fail(
                "No token encryption key is configured, and outside Development the broker will not store Tesla tokens without one. "
                + VaultOptions.HowToCreateAKey);
        }
        return ValidateOptionsResult.Success;
    }
}

internal static class VaultKeys
{
    public static List<(string Id, byte[] Key)> Load(VaultOptions options)
    {
        var keys = new List<(string, byte[])>();
        foreach (var (id, key) in Entries(options))
        {
            keys.Add((id, Convert.FromBase64String(key)));
        }
        return keys;
    }

    /// <summary>Says what is wrong with the configured keys, without echoing key material.</summary>
    public static string? Problem(VaultOptions options)
    {
        if (options.KeyFile is { Length: > 0 } file && !File.Exists(file))
        {
            return $"Vault key file '{file}' does not exist.";
        }
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var buffer = new byte[64];
        foreach (var (id, key) in Entries(options))
        {
            if (id.Length is 0 or > 64 || !id.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.'))
            {
                return "A vault key id must be 1-64 characters of letters, digits, '-', '_' or '.'.";
            }
            if (!seen.Add(id))
            {
                return $"Vault key id '{id}' is configured twice.";
            }
            if (!Convert.TryFromBase64String(key, buffer, out var length) || length != 32)
            {
                return $"Vault key '{id}' is not 32 bytes of base64.";
            }
        }
        return null;
    }

    private static IEnumerable<(string Id, string Key)> Entries(VaultOptions options)
    {
        if (options.KeyFile is { Length: > 0 } file && File.Exists(file))
        {
            foreach (var raw in File.ReadAllLines(file))
            {
                var line = raw.Trim();
                if (line.Length == 0 || line.StartsWith('#'))
                {
                    continue;
                }
                var eq = line.IndexOf('=');
                yield return eq < 0 ? ("", line) : (line[..eq].Trim(), line[(eq + 1)..].Trim());
            }
        }
        foreach (var key in options.Keys)
        {
            yield return (key.Id.Trim(), key.Key.Trim());
        }
    }
}
