//! The domains of the store: AddLiveDomain, the domain reads, HTTPS off, Start/Stop/Delete and
//! the operator's flags and origin. Each method hands its call to `crate::sql` through the seam.

use livecert_core::names::DomainName;

use crate::call::{read_call, write_call, Touches};
use crate::sql;
use crate::{
    AccountId, DomainFlags, DomainRecord, DomainStatus, NewDomain, OffOutcome, Store, StoreError,
    WriteError,
};

impl Store {
    /// AddLiveDomain: the domain is `online`, HTTPS off. Refused with `DomainAlreadyExist` if any
    /// account has the name.
    pub async fn add_domain(
        &self,
        account_id: AccountId,
        domain: NewDomain,
        now: i64,
    ) -> Result<(), WriteError> {
        write_call!(self, Touches::Library, |tx| {
            sql::write::add_domain(tx, account_id, &domain, now).await
        })
    }

    /// The domain if it exists and belongs to `account_id` (a foreign domain is `None`, as if it
    /// did not exist).
    pub async fn domain(
        &self,
        account_id: AccountId,
        name: &DomainName,
    ) -> Result<Option<DomainRecord>, StoreError> {
        let name = name.clone();
        read_call!(self, |tx| {
            sql::read::domain(tx, account_id, name.as_str()).await
        })
    }

    /// Operator read: a domain whoever owns it (`livecert admin domain show|set`).
    pub async fn domain_any(&self, name: &DomainName) -> Result<Option<DomainRecord>, StoreError> {
        let name = name.clone();
        read_call!(self, |tx| {
            sql::read::domain_any(tx, name.as_str()).await
        })
    }

    /// Every domain of the account, newest `created` first, then by name
    /// (DescribeLiveUserDomains filters and pages this list).
    pub async fn domains(&self, account_id: AccountId) -> Result<Vec<DomainRecord>, StoreError> {
        read_call!(self, |tx| { sql::read::domains_of(tx, account_id).await })
    }

    /// Rows 7–15: HTTPS off, certificate binding set to none (the record stays).
    ///
    /// Rows 7–12 are re-checked in the transaction and refused with their codes
    /// (`IllegalOperationDomain`, `IllegalOperation`, `DomainInSafeMode`,
    /// `DomainInProtectedMode`, `InvalidDomain.notOnline`, `Certificate.NotPermittedOff`).
    pub async fn set_https_off(
        &self,
        account_id: AccountId,
        name: &DomainName,
        now: i64,
    ) -> Result<OffOutcome, WriteError> {
        let name = name.clone();
        write_call!(self, Touches::Library, |tx| {
            sql::write::set_https_off(tx, account_id, &name, now).await
        })
    }

    /// DeleteLiveDomain: removes the domain and its binding; the record stays in the library.
    ///
    /// Refusals: `IllegalOperationDomain` (unknown or foreign), `IllegalOperation`,
    /// `DomainInSafeMode`, `DomainInProtectedMode` (rows 8–10 apply to every state change).
    pub async fn delete_domain(
        &self,
        account_id: AccountId,
        name: &DomainName,
    ) -> Result<(), WriteError> {
        let name = name.clone();
        write_call!(self, Touches::Library, |tx| {
            sql::write::delete_domain(tx, account_id, &name).await
        })
    }

    /// StartLiveDomain (`Online`) / StopLiveDomain (`Offline`). Returns whether the status
    /// changed (`false`: it already was `status`; nothing is written).
    ///
    /// Refusals: as [`Store::delete_domain`].
    pub async fn set_domain_status(
        &self,
        account_id: AccountId,
        name: &DomainName,
        status: DomainStatus,
        now: i64,
    ) -> Result<bool, WriteError> {
        let name = name.clone();
        write_call!(self, Touches::Library, |tx| {
            sql::write::set_domain_status(tx, account_id, &name, status, now).await
        })
    }

    /// Operator action: sets a domain's flags, whoever owns it (`livecert admin`).
    ///
    /// Refusals: `IllegalOperationDomain` if there is no such domain.
    pub async fn set_domain_flags(
        &self,
        name: &DomainName,
        flags: DomainFlags,
        now: i64,
    ) -> Result<(), WriteError> {
        let name = name.clone();
        write_call!(self, Touches::Library, |tx| {
            sql::write::set_domain_flags(tx, &name, &flags, now).await
        })
    }

    /// Operator action: sets (or, with `None`, clears) a domain's origin, whoever owns it
    /// (`livecert admin domain set --origin`). The caller checks the form (`http://host:port`);
    /// the edge sees the change like any other (the change counter moves).
    ///
    /// Refusals: `IllegalOperationDomain` if there is no such domain.
    pub async fn set_domain_origin(
        &self,
        name: &DomainName,
        origin: Option<String>,
        now: i64,
    ) -> Result<(), WriteError> {
        let name = name.clone();
        write_call!(self, Touches::Library, |tx| {
            sql::write::set_domain_origin(tx, &name, origin.as_deref(), now).await
        })
    }
}
