using System.Security.Cryptography;
using System.Text;
using Broker.Vault;

namespace Broker.Tests.Vault;

public sealed class TokenVaultTests
{
    private static readonly byte[] OldKey = RandomNumberGenerator.GetBytes(32);
    private static readonly byte[] NewKey = RandomNumberGenerator.GetBytes(32);

    [Fact]
    public void NewestKeyEncryptsAndEveryKeyDecrypts()
    {
        var before = new TokenVault([("k1", OldKey)]);
        var sealedByOld = before.Encrypt("NA_refresh", "ctx");
        var after = new TokenVault([("k1", OldKey), ("k2", NewKey)]);

        Assert.Equal("k2", after.CurrentKeyId);
        Assert.Equal("k2", TokenVault.KeyIdOf(after.Encrypt("NA_refresh", "ctx")));
        Assert.Equal("NA_refresh", after.Decrypt(sealedByOld, "ctx"));
    }

    [Fact]
    public void EnvelopeNeverContainsThePlaintext()
    {
        var vault = new TokenVault([("k1", OldKey)]);
        var envelope = vault.Encrypt("NA_0123456789abcdef", "ctx");
        Assert.DoesNotContain("0123456789abcdef", Encoding.UTF8.GetString(envelope));
        Assert.NotEqual(envelope, vault.Encrypt("NA_0123456789abcdef", "ctx")); // fresh nonce each time
    }

    [Fact]
    public void EnvelopeMovedToAnotherAccountFailsToDecrypt()
    {
        var vault = new TokenVault([("k1", OldKey)]);
        var envelope = vault.Encrypt("secret", "tesla-refresh-token:account-a");
        Assert.ThrowsAny<CryptographicException>(() => vault.Decrypt(envelope, "tesla-refresh-token:account-b"));
    }

    [Fact]
    public void TamperedEnvelopeFailsToDecrypt()
    {
        var vault = new TokenVault([("k1", OldKey)]);
        var envelope = vault.Encrypt("secret", "ctx");
        envelope[^1] ^= 0x01;
        Assert.ThrowsAny<CryptographicException>(() => vault.Decrypt(envelope, "ctx"));
    }

    [Fact]
    public void EnvelopeUnderAnUnconfiguredKeySaysWhichKeyIsMissing()
    {
        var envelope = new TokenVault([("retired", OldKey)]).Encrypt("secret", "ctx");
        var ex = Assert.Throws<CryptographicException>(() => new TokenVault([("k2", NewKey)]).Decrypt(envelope, "ctx"));
        Assert.Contains("retired", ex.Message);
    }
}
