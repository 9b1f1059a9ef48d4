package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/fleetgate/fleetgate/store"
)

// PutGroup creates or updates a group's enrollment policy.
func (c *Client) PutGroup(ctx context.Context, name string, req GroupRequest) (store.Group, error) {
	var g store.Group
	err := c.do(ctx, http.MethodPut, "/v1/groups/"+url.PathEscape(name), nil, req, &g, http.StatusOK)
	return g, err
}

// Groups lists every group, sorted by name.
func (c *Client) Groups(ctx context.Context) ([]store.Group, error) {
	var list GroupList
	err := c.do(ctx, http.MethodGet, "/v1/groups", nil, nil, &list, http.StatusOK)
	return list.Groups, err
}
