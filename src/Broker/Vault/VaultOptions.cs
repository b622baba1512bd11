namespace Broker.Vault;

/// <summary>
/// Token encryption keys. Keys come from configuration (environment) or a key file, never from
/// the database. Order matters: the last key listed is the newest and encrypts; every key decrypts.
/// Keys from <see cref="KeyFile"/> come first, then <see cref="Keys"/>.
/// </summary>
public sealed class VaultOptions
{
    public const string SectionName = "Vault";

    public List<VaultKeyOptions> Keys { get; set; } = [];

    /// <summary>A file of <c>id=base64key</c> lines (<c>#</c> starts a comment), e.g. a Docker secret.</summary>
    public string? KeyFile { get; set; }

    internal const string HowToCreateAKey =
        "Create a key with `./broker.sh new-key` (or `openssl rand -base64 32`) and set " +
        "Vault__Keys__0__Id=<a name, e.g. 2026-11> and Vault__Keys__0__Key=<the base64 key>, " +
        "or point Vault__KeyFile at a file of `id=base64key` lines.";
}

public sealed class VaultKeyOptions
{
    public string Id { get; set; } = "";
    public string Key { get; set; } = "";
}
