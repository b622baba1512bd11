using System.Xml.Linq;
using Microsoft.AspNetCore.DataProtection.XmlEncryption;

namespace Broker.Vault;

/// <summary>
/// Seals ASP.NET Data Protection keys (which protect OAuth state and cookies) with the token vault
/// before they are written to Postgres, so a database dump alone cannot forge a connect callback.
/// A vault key that is removed after <c>vault rekey</c> only costs in-flight connects: Data
/// Protection then makes a new key.
/// </summary>
internal sealed class VaultXmlEncryptor(TokenVault vault) : IXmlEncryptor
{
    internal const string Context = "aspnet-data-protection-key";

    public EncryptedXmlInfo Encrypt(XElement plaintextElement)
    {
        var envelope = vault.Encrypt(plaintextElement.ToString(SaveOptions.DisableFormatting), Context);
        var element = new XElement("vaultEncryptedKey",
            new XComment(" Sealed with the Broker token vault (AES-256-GCM); the key id is inside the envelope. "),
            new XElement("value", Convert.ToBase64String(envelope)));
        return new EncryptedXmlInfo(element, typeof(VaultXmlDecryptor));
    }
}

/// <summary>Created by Data Protection's activator, hence the service provider constructor.</summary>
internal sealed class VaultXmlDecryptor(IServiceProvider services) : IXmlDecryptor
{
    public XElement Decrypt(XElement encryptedElement) =>
        XElement.Parse(services.GetRequiredService<TokenVault>().Decrypt(
            Convert.FromBase64String((string?)encryptedElement.Element("value") ?? ""), VaultXmlEncryptor.Context));
}
